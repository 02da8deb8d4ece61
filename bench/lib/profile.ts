/** Summarises a V8 CPU profile: self time by function and by where the code comes from. */
import { existsSync, readFileSync } from 'node:fs';
import { printTable } from './stats.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Where a function's code lives, in the terms the issue asks about. */
export function categorize(url: string, fn: string): string {
  if (fn === '(idle)') return 'idle (waiting for I/O)';
  if (fn === '(garbage collector)') return 'garbage collection';
  if (fn === '(program)') return 'V8/native (program)';
  if (/\/auth\//.test(url) && !/node_modules/.test(url)) return 'xray: auth guard';
  if (/class-validator|class-transformer/.test(url)) return 'validation (class-validator/transformer)';
  if (/candidate-batch\.validator|json-limits|\/validation\.js/.test(url)) return 'validation (xray)';
  if (/node_modules\/typeorm\//.test(url)) return 'ORM (TypeORM)';
  if (/node_modules\/(pg|pg-protocol|pg-pool|pg-types|postgres-\w+|pgpass)\//.test(url)) return 'pg driver';
  if (/node_modules\/@nestjs\//.test(url)) return 'Nest (router, pipes, guards)';
  if (
    /node_modules\/(express|router|body-parser|raw-body|helmet|finalhandler|send|serve-static|qs|iconv-lite|type-is|content-type|on-finished|statuses|http-errors|media-typer|mime-\w+|accepts|negotiator|depd|debug|path-to-regexp|encodeurl|escape-html|cookie|vary|fresh|etag|parseurl|proxy-addr|forwarded|ipaddr\.js|range-parser)\//.test(
      url,
    )
  )
    return 'express + middleware';
  if (/node_modules\/(rxjs|tslib)\//.test(url)) return 'rxjs';
  if (/node_modules\//.test(url)) return `other package: ${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1]}`;
  if (/\/apps\/api\//.test(url)) return 'xray: services, controllers, SQL building';
  if (fn === 'stringify' || fn === 'parse' || /JSON/.test(fn)) return 'JSON (native)';
  if (/^node:|^internal\//.test(url) || url === '') {
    if (/http|_http|net|stream|socket/.test(url)) return 'node: http/net/streams';
    return 'node internals + builtins';
  }
  return 'other';
}

export interface ProfileSummary {
  totalMs: number;
  byFunction: { name: string; where: string; selfMs: number; share: number }[];
  byCategory: { category: string; selfMs: number; share: number }[];
}

export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const self = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    // Each sample's time is the delta to the next one.
    for (let i = 0; i < profile.samples.length; i++) {
      const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
      self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
    }
  }
  const byFn = new Map<string, { name: string; where: string; selfMs: number }>();
  const byCat = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const ms = self.get(node.id) ?? 0;
    if (ms === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    const short = url
      .replace(/^file:\/\//, '')
      .replace(/^.*node_modules\//, '')
      .replace(/^.*\/dist\//, '');
    const where = short ? `${short}:${lineNumber + 1}` : '';
    const k = `${name}@${where}`;
    const entry = byFn.get(k) ?? { name, where, selfMs: 0 };
    entry.selfMs += ms;
    byFn.set(k, entry);
    const cat = categorize(url, name);
    byCat.set(cat, (byCat.get(cat) ?? 0) + ms);
    total += ms;
  }
  return {
    totalMs: total,
    byFunction: [...byFn.values()].sort((a, b) => b.selfMs - a.selfMs).map((f) => ({ ...f, share: f.selfMs / total })),
    byCategory: [...byCat.entries()].map(([category, selfMs]) => ({ category, selfMs, share: selfMs / total })).sort((a, b) => b.selfMs - a.selfMs),
  };
}

export function printProfile(log: (s: string) => void, summary: ProfileSummary, top = 15): void {
  const busy = summary.byCategory.filter((c) => !c.category.startsWith('idle')).reduce((s, c) => s + c.selfMs, 0);
  log(`CPU profile: ${summary.totalMs.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms busy`);
  printTable(
    log,
    ['where the time goes (self time)', 'ms', '% of busy'],
    summary.byCategory.filter((c) => !c.category.startsWith('idle')).map((c) => [c.category, c.selfMs.toFixed(0), ((c.selfMs / busy) * 100).toFixed(1)]),
  );
  log('');
  printTable(
    log,
    ['top self-time functions', 'location', 'ms', '% of busy'],
    summary.byFunction
      .filter((f) => f.name !== '(idle)')
      .slice(0, top)
      .map((f) => [f.name.slice(0, 40), f.where.slice(-60), f.selfMs.toFixed(0), ((f.selfMs / busy) * 100).toFixed(1)]),
  );
}

export const readProfile = (path: string): CpuProfile | undefined => (existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as CpuProfile) : undefined);
