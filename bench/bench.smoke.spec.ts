import { adminUrl } from './lib/database.js';
import { runSuite, SUITE } from './suite.js';

/**
 * The benchmark suite at tiny sizes (`npm run bench -- --smoke`, here in-process), so it never
 * rots: every benchmark starts what it needs, measures, compares and cleans up. Figures are
 * not checked (a smoke run on a busy machine says nothing about speed); that they come out is.
 * Fresh databases go on DATABASE_URL's server, else on the local PostgreSQL (127.0.0.1:5432).
 * Not here: `queries`, which reads a large seeded database by design (its parameters are
 * drawn hundreds of runs deep); `npm run bench -- queries` runs it against one.
 */
describe('benchmark suite (smoke)', () => {
  it('runs every benchmark end to end at tiny sizes', async () => {
    const lines: string[] = [];
    const names = SUITE.filter((n) => n !== 'queries');
    try {
      const results = await runSuite({
        names,
        ctx: { smoke: true, mode: 'inline', adminUrl: adminUrl(), log: (l) => lines.push(l) },
      });
      const out = lines.join('\n');
      expect(results.candidates?.comparisons[0].median).toBeGreaterThan(0);
      expect(results.candidates?.comparisons[0].baselineMedian).toBeGreaterThan(0);
      expect(results.ingest?.comparisons[0].median).toBeGreaterThan(0);
      expect(results.ingest?.p99Ms).toBeGreaterThan(0);
      expect(results.http?.comparisons.every((c) => c.median > 0 && c.baselineMedian > 0)).toBe(true);
      expect(results.http?.profile?.byCategory.length).toBeGreaterThan(0);
      expect(results.memory?.sdk.every((s) => s.bounded)).toBe(true);
      expect(results.sdk?.perStepUs.length).toBeGreaterThan(0);
      expect(results.scores?.comparisons[0].median).toBeGreaterThan(0);
      expect(results.scores?.comparisons[0].baselineMedian).toBeGreaterThan(0);
      expect(results.otlp?.spansPerSecond[0]).toBeGreaterThan(0);
      expect(results.otlp?.ingestEventsPerSecond[0]).toBeGreaterThan(0);
      expect(results.otlp?.p99Ms).toBeGreaterThan(0);
      for (const name of names) expect(out).toContain(`# ${name} (smoke)`);
    } catch (err) {
      console.log(lines.join('\n'));
      throw err;
    }
  }, 180_000);
});
