/**
 * DataSource for the TypeORM CLI (`npm run migration:generate`, `migration:run`, `migration:revert`).
 * Uses DATABASE_URL, or starts the embedded database in XRAY_DATA_DIR when it is unset.
 */
import 'reflect-metadata';
import { loadConfig } from './apps/api/src/config/config.js';
import { createDataSource } from './apps/api/src/database/data-source.js';
import { EmbeddedPostgres } from './apps/api/src/database/embedded-postgres.js';

const config = loadConfig();
let url = config.databaseUrl;
if (!url) {
  const embedded = await EmbeddedPostgres.start(config.dataDir);
  url = embedded.url;
  // The CLI exits on its own once the command is done; the embedded server must not hold it open.
  process.once('beforeExit', () => void embedded.stop());
}

export default createDataSource({ url });
