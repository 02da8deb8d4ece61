/**
 * The sweeper moved to maintenance/ (it calls the runs, steps, auth and ingest modules). This
 * path is kept for code that imported it here; nothing in runs/ imports it.
 */
export { RunTimeoutSweeper } from '../maintenance/run-timeout.sweeper.js';
