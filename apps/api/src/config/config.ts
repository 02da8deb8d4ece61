/**
 * Typed configuration, read once from the environment and validated at boot.
 * A bad value stops the process with a message naming the variable.
 */
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';

export interface AppConfig {
  port: number;
  /** PostgreSQL connection string; undefined means the embedded database. */
  databaseUrl?: string;
  /** Folder of the embedded database (`memory://` keeps it in memory). */
  dataDir: string;
  /** Operator key allowed to manage projects; undefined disables those routes. */
  rootKey?: string;
  migrate: boolean;
  maxBodyBytes: number;
  maxCandidatesPerRequest: number;
  maxEventsPerBatch: number;
  /** How long applied ingest event ids are remembered for de-duplication. */
  ingestDedupeHours: number;
  /**
   * XRAY_RETENTION_DAYS: how many days of runs (by start, whole UTC days) are kept; null keeps
   * everything. Older days leave by dropping their partitions.
   */
  retentionDays: number | null;
  /** Requests per minute per API key (0: no limit). */
  rateLimitPerMinute: number;
  /** Failed authentications per minute per client address before it is refused (0: no limit). */
  authFailureLimitPerMinute: number;
  /** Express `trust proxy`: which proxies' X-Forwarded-For to believe for the client address. */
  trustProxy: boolean | number | string;
  /** Allowed browser origins for CORS (empty: CORS off). */
  corsOrigins: string[];
  /** Deepest nesting accepted in a JSON body. */
  maxJsonDepth: number;
  /** Longest string accepted anywhere in a JSON body (characters). */
  maxStringLength: number;
  /** How long a graceful shutdown may take before the process exits anyway (ms). */
  shutdownTimeoutMs: number;
  /** A run still running after this long is marked timed_out (ms). */
  runTimeoutMs: number;
  /** How often the timeout sweep runs (ms; 0 disables it). */
  sweepIntervalMs: number;
  /** List answers show JSON fields longer than this many characters (of their JSON text) as a cut preview. */
  previewChars: number;
  /** Pool size of the PostgreSQL connection pool. */
  dbPoolSize: number;
  /** Per-statement timeout in milliseconds (0 disables). */
  statementTimeoutMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Serve `GET /metrics` (XRAY_METRICS=true, or a XRAY_METRICS_TOKEN set). */
  metricsEnabled: boolean;
  /** Bearer token a scrape of `/metrics` must send; undefined: no token asked. */
  metricsToken?: string;
  /** Port of the OTLP/gRPC trace receiver (XRAY_OTLP_GRPC_PORT; undefined: off, 0: any free port). */
  otlpGrpcPort?: number;
  /** Most spans one OTLP export may carry (XRAY_OTLP_MAX_SPANS); a larger export is refused whole. */
  otlpMaxSpans: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Parses sizes such as `16mb`, `512kb` or a plain byte count. */
export function parseSize(value: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(value);
  if (!match) return undefined;
  const bytes = Math.floor(Number(match[1]) * SIZE_UNITS[(match[2] ?? 'b').toLowerCase()]);
  return bytes > 0 ? bytes : undefined;
}

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (/^(true|1|yes|on)$/i.test(raw)) return true;
  if (/^(false|0|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * XRAY_TRUST_PROXY: unset or false (the connection's address is the client's), true (the
 * left-most X-Forwarded-For address), a number of proxy hops, or a comma-separated list of
 * proxy addresses, subnets (CIDR) or the names loopback, linklocal, uniquelocal.
 */
function trustProxy(raw: string | undefined): boolean | number | string {
  if (raw === undefined || /^false$/i.test(raw)) return false;
  if (/^true$/i.test(raw)) return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const parts = raw.split(',').map((p) => p.trim());
  for (const part of parts) {
    const [address, bits, extra] = part.split('/');
    const family = isIP(address);
    const validBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (!(PROXY_NAMES.has(part) || (family !== 0 && validBits && extra === undefined))) {
      throw new ConfigError(
        'XRAY_TRUST_PROXY',
        `must be true, false, a number of hops, or addresses, subnets and loopback/linklocal/uniquelocal separated by commas; "${part}" is none of these`,
      );
    }
  }
  return parts.join(',');
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses durations such as `24h`, `30m`, `90s`, `500ms` or a plain number of milliseconds. */
export function parseDuration(value: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(value);
  if (!match) return undefined;
  return Math.floor(Number(match[1]) * DURATION_UNITS[(match[2] ?? 'ms').toLowerCase()]);
}

function duration(env: Env, name: string, fallback: string, min: number): number {
  const raw = read(env, name) ?? fallback;
  const ms = parseDuration(raw);
  if (ms === undefined || ms < min) throw new ConfigError(name, `must be a duration such as 24h, 30m or 90s (at least ${min} ms), got "${raw}"`);
  return ms;
}

function corsOrigins(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const origins = raw
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of origins) {
    if (origin === '*') continue;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError('XRAY_CORS_ORIGINS', `must be * or a comma-separated list of origins like https://app.example.com, got "${origin}"`);
    }
    if (url.origin !== origin) throw new ConfigError('XRAY_CORS_ORIGINS', `"${origin}" is not an origin (scheme://host[:port], no path)`);
  }
  return origins;
}

/**
 * Connections PostgreSQL can use well: about two per core (one running, one waiting on I/O)
 * plus one; more only queue inside the server. 5 on the 2-core machines xray is sized for.
 */
export function defaultPoolSize(): number {
  return Math.min(10, 2 * availableParallelism() + 1);
}

export function loadConfig(env: Env = process.env): AppConfig {
  const databaseUrl = read(env, 'DATABASE_URL');
  if (databaseUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(databaseUrl);
    } catch {
      throw new ConfigError('DATABASE_URL', 'must be a URL like postgres://user:password@host:5432/db');
    }
    if (!/^postgres(ql)?:$/.test(url.protocol)) {
      throw new ConfigError('DATABASE_URL', `must use the postgres:// scheme, got "${url.protocol}"`);
    }
  }

  const rootKey = read(env, 'XRAY_ROOT_KEY');
  if (rootKey !== undefined && rootKey.length < 32) {
    throw new ConfigError('XRAY_ROOT_KEY', 'must be at least 32 characters long');
  }

  const maxBodyRaw = read(env, 'XRAY_MAX_BODY') ?? '16mb';
  const maxBodyBytes = parseSize(maxBodyRaw);
  if (maxBodyBytes === undefined) {
    throw new ConfigError('XRAY_MAX_BODY', `must be a size such as 16mb or 512kb, got "${maxBodyRaw}"`);
  }

  const logLevel = (read(env, 'XRAY_LOG_LEVEL') ?? 'info').toLowerCase();
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) {
    throw new ConfigError('XRAY_LOG_LEVEL', `must be one of debug, info, warn, error, silent, got "${logLevel}"`);
  }

  const metricsToken = read(env, 'XRAY_METRICS_TOKEN');
  if (metricsToken !== undefined && (metricsToken.length < 16 || /\s/.test(metricsToken))) {
    throw new ConfigError('XRAY_METRICS_TOKEN', 'must be at least 16 characters long, without spaces');
  }
  const metricsFlag = read(env, 'XRAY_METRICS') === undefined ? undefined : bool(env, 'XRAY_METRICS', false);
  if (metricsFlag === false && metricsToken !== undefined) {
    throw new ConfigError('XRAY_METRICS', 'is false while XRAY_METRICS_TOKEN is set; unset one of them');
  }

  return {
    port: int(env, 'PORT', 3000, 0, 65535),
    databaseUrl,
    dataDir: read(env, 'XRAY_DATA_DIR') ?? './.xray/data',
    rootKey,
    migrate: bool(env, 'XRAY_MIGRATE', true),
    maxBodyBytes,
    maxCandidatesPerRequest: int(env, 'XRAY_MAX_CANDIDATES_PER_REQUEST', 10_000, 1, 1_000_000),
    maxEventsPerBatch: int(env, 'XRAY_MAX_EVENTS_PER_BATCH', 1000, 1, 100_000),
    ingestDedupeHours: int(env, 'XRAY_INGEST_DEDUPE_HOURS', 168, 1, 24 * 365),
    retentionDays: read(env, 'XRAY_RETENTION_DAYS') === undefined ? null : int(env, 'XRAY_RETENTION_DAYS', 0, 1, 36_500),
    rateLimitPerMinute: int(env, 'XRAY_RATE_LIMIT', 6000, 0, 10_000_000),
    authFailureLimitPerMinute: int(env, 'XRAY_AUTH_FAILURE_LIMIT', 300, 0, 10_000_000),
    trustProxy: trustProxy(read(env, 'XRAY_TRUST_PROXY')),
    corsOrigins: corsOrigins(read(env, 'XRAY_CORS_ORIGINS')),
    maxJsonDepth: int(env, 'XRAY_MAX_JSON_DEPTH', 32, 2, 1000),
    maxStringLength: int(env, 'XRAY_MAX_STRING_LENGTH', 1_000_000, 100, 100_000_000),
    shutdownTimeoutMs: duration(env, 'XRAY_SHUTDOWN_TIMEOUT', '25s', 0),
    runTimeoutMs: duration(env, 'XRAY_RUN_TIMEOUT', '24h', 1000),
    sweepIntervalMs: duration(env, 'XRAY_SWEEP_INTERVAL', '60s', 0),
    previewChars: int(env, 'XRAY_PREVIEW_CHARS', 2000, 1, 10_000_000),
    dbPoolSize: int(env, 'XRAY_DB_POOL_SIZE', defaultPoolSize(), 1, 200),
    statementTimeoutMs: int(env, 'XRAY_STATEMENT_TIMEOUT_MS', 30_000, 0, 3_600_000),
    logLevel: logLevel as AppConfig['logLevel'],
    metricsEnabled: metricsFlag === true || metricsToken !== undefined,
    metricsToken,
    otlpGrpcPort: read(env, 'XRAY_OTLP_GRPC_PORT') === undefined ? undefined : int(env, 'XRAY_OTLP_GRPC_PORT', 0, 0, 65535),
    otlpMaxSpans: int(env, 'XRAY_OTLP_MAX_SPANS', 10_000, 1, 1_000_000),
  };
}
