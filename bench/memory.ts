/**
 * Benchmark 5, memory: the API's peak resident set (VmHWM) during benchmarks 1 and 2 (each
 * runs its own API process, so its peak is theirs alone), against its resident set when idle;
 * and the SDK's heap with 100,000 events recorded while the server is away, against the
 * bounds its configuration sets (maxBufferEvents / maxBufferBytes).
 * Targets: API under 300 MB; SDK buffer bounded by its configuration.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { XrayClient } from '../libs/sdk/src/client.js';
import type { CandidatesFigures } from './candidates.js';
import type { IngestFigures } from './ingest.js';
import { freePort } from './lib/api.js';
import { type BenchContext, fmtNumber } from './lib/report.js';
import { printTable } from './lib/stats.js';

export interface MemoryFigures {
  apiPeakMiB: { candidates?: number; ingest?: number };
  sdk: { config: string; recorded: number; queued: number; dropped: number; queuedMiB: number; heapGrowthMiB: number; boundMiB: number; bounded: boolean }[];
}

function gcFunction(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const heapMiB = (gc: () => void) => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1024 ** 2;
};

/** Records `events` SDK events (runs of 13 events, 50 candidates) towards a port nobody listens on. */
async function sdkHeap(events: number, options: { maxBufferEvents?: number; maxBufferBytes?: number }, gc: () => void) {
  const port = await freePort(); // closed again: every send fails fast (ECONNREFUSED), so everything buffers
  const before = heapMiB(gc);
  const xray = new XrayClient({
    baseUrl: `http://127.0.0.1:${port}`,
    apiKey: 'xr_bench',
    exitFlushTimeoutMs: 0,
    retryBaseMs: 60_000,
    retryMaxMs: 60_000,
    ...options,
    onError: () => {},
  });
  const candidates = Array.from({ length: 50 }, (_, j) => ({
    key: `B0${j}`,
    decision: (j < 10 ? 'accepted' : 'rejected') as 'accepted' | 'rejected',
    ...(j < 10 ? {} : { reason: 'price above $50' }),
    evaluations: [{ check: 'price', passed: j < 10, detail: `$${20 + j}` }],
    data: { title: `Laptop stand ${j}`, price: 20 + j },
  }));
  while (xray.stats().enqueued < events) {
    const run = await xray.startRun({ pipeline: 'bench-memory', input: { title: 'Adjustable laptop stand' } });
    for (const name of ['search', 'filter-by-price', 'rank']) {
      const step = run.startStep(name, { type: 'filter', input: { q: 'laptop stand' } });
      if (name === 'filter-by-price') step.startStep('price-rule').complete({ output: { ok: true } });
      step.candidates(name === 'rank' ? candidates.slice(0, 10) : candidates.slice(0, 20));
      step.complete({ output: { ok: true } });
    }
    await run.complete({ output: { selected: 'B00' } });
  }
  const stats = xray.stats();
  const after = heapMiB(gc);
  await xray.shutdown({ timeoutMs: 0 });
  return { stats, growthMiB: after - before };
}

export async function benchMemory(ctx: BenchContext, from: { candidates?: CandidatesFigures; ingest?: IngestFigures }): Promise<MemoryFigures> {
  const { log } = ctx;
  const limitMiB = 300 / 1.048576; // 300 MB
  log('API resident memory (peak = VmHWM of the API process over the whole benchmark):');
  printTable(
    log,
    ['during', 'idle RSS MiB', 'peak RSS MiB', 'peak / idle', 'target < 300 MB'],
    (
      [
        ['1. candidate ingest', from.candidates?.apiIdleRssMiB, from.candidates?.apiPeakRssMiB],
        ['2. batch event ingest', from.ingest?.apiIdleRssMiB, from.ingest?.apiPeakRssMiB],
      ] as [string, number | undefined, number | undefined][]
    )
      .filter(([, idle, peak]) => idle !== undefined && peak !== undefined)
      .map(([name, idle, peak]) => [
        name,
        idle!.toFixed(0),
        peak!.toFixed(0),
        `${(peak! / idle!).toFixed(2)}×`,
        peak! < limitMiB ? `met (${(peak! * 1.048576).toFixed(0)} MB)` : `MISSED (${(peak! * 1.048576).toFixed(0)} MB)`,
      ]),
  );
  if (ctx.mode === 'inline') log('(inline mode: these are the test process’s own figures, not an API process’s)');

  const gc = gcFunction();
  const events = ctx.smoke ? 2_000 : 100_000;
  const configs: { label: string; options: { maxBufferEvents?: number; maxBufferBytes?: number } }[] = ctx.smoke
    ? [{ label: 'maxBufferEvents 500', options: { maxBufferEvents: 500 } }]
    : [
        { label: 'defaults (20,000 events / 64 MiB)', options: {} },
        { label: 'maxBufferBytes 8 MiB', options: { maxBufferBytes: 8 * 1024 ** 2 } },
        { label: 'maxBufferEvents 100,000 (holds all)', options: { maxBufferEvents: 100_000, maxBufferBytes: 1024 ** 3 } },
      ];
  const sdk: MemoryFigures['sdk'] = [];
  for (const c of configs) {
    const { stats, growthMiB } = await sdkHeap(events, c.options, gc);
    const queuedMiB = stats.queuedBytes / 1024 ** 2;
    const maxEvents = c.options.maxBufferEvents ?? 20_000;
    const maxMiB = (c.options.maxBufferBytes ?? 64 * 1024 ** 2) / 1024 ** 2;
    // Strings are held once (the serialized event) plus a small record per event.
    const boundMiB = Math.min(maxMiB, (queuedMiB / Math.max(1, stats.queued)) * maxEvents) * 1.5 + 2;
    sdk.push({
      config: c.label,
      recorded: stats.enqueued,
      queued: stats.queued,
      dropped: stats.dropped,
      queuedMiB,
      heapGrowthMiB: growthMiB,
      boundMiB,
      bounded: stats.queued <= maxEvents && stats.queuedBytes <= maxMiB * 1024 ** 2 && growthMiB <= boundMiB,
    });
  }
  log(`\nSDK heap with ${fmtNumber(events)} events recorded while the server is unreachable (heap growth after GC):`);
  printTable(
    log,
    ['configuration', 'recorded', 'held', 'dropped', 'held MiB', 'heap growth MiB', 'bounded'],
    sdk.map((s) => [
      s.config,
      fmtNumber(s.recorded),
      fmtNumber(s.queued),
      fmtNumber(s.dropped),
      s.queuedMiB.toFixed(1),
      s.heapGrowthMiB.toFixed(1),
      s.bounded ? 'yes' : 'NO',
    ]),
  );
  return { apiPeakMiB: { candidates: from.candidates?.apiPeakRssMiB, ingest: from.ingest?.apiPeakRssMiB }, sdk };
}
