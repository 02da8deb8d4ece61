/**
 * Operator commands that work without HTTP, for bootstrapping, emergencies and moving data
 * (`npm run xray -- --help`). Each command boots a Nest application context with the
 * configuration, the database (migrations applied first, like the server) and the project, key,
 * export and import services, and calls those services: the CLI writes nothing itself. Talks to
 * DATABASE_URL or the embedded database in XRAY_DATA_DIR; `export` and `import` can talk to a
 * server's API instead (--url, --key), and then boot nothing. Secrets are printed once, to
 * stdout, and stored only as hashes. Progress goes to stderr. Exit status: 0 done, 1 failed,
 * 2 usage error.
 */
import 'reflect-metadata';
import { type INestApplicationContext, type LogLevel, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { existsSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ApiKeysRepository } from './auth/api-keys.repository.js';
import { ApiKeysService } from './auth/api-keys.service.js';
import { CreateApiKeyDto } from './auth/api-keys.dto.js';
import { AppError } from './common/app-error.js';
import { isMainModule } from './common/main-module.js';
import { validateDto } from './common/validation.js';
import { ConfigModule } from './config/config.module.js';
import { ConfigError, loadConfig, parseSize } from './config/config.js';
import { DataSource } from 'typeorm';
import { citusInstalled, citusShardCount, convertToColumnar, distributeTables } from './database/citus.js';
import { DatabaseModule } from './database/database.module.js';
import { addDays, dayOf } from './database/partitions.js';
import { ExportQueryDto, type ImportResultDto } from './export/export.dto.js';
import { ExportModule } from './export/export.module.js';
import { ExportService } from './export/export.service.js';
import { ImportService } from './export/import.service.js';
import { exportOverHttp, exportToFile, importFromFile, importOverHttp, type Progress, type Remote } from './export/transfer.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { RUN_STATUSES, SCOPES } from './domain/vocabulary.js';
import { DeleteRunsDto } from './lifecycle/deletion.dto.js';
import { DeletionRepository } from './lifecycle/deletion.repository.js';
import { BULK_PACE, DeletionService } from './lifecycle/deletion.service.js';
import { CreateProjectDto } from './projects/projects.dto.js';
import { ProjectsRepository } from './projects/projects.repository.js';
import { ProjectsService } from './projects/projects.service.js';
import { StepsRepository } from './steps/steps.repository.js';

/** What the CLI needs of the application: configuration, database, the services it calls (and their repositories). */
@Module({
  imports: [ConfigModule, DatabaseModule, MetricsModule, ExportModule],
  providers: [ProjectsService, ProjectsRepository, ApiKeysService, ApiKeysRepository, DeletionService, DeletionRepository, StepsRepository],
})
export class CliModule {}

/** A mistake in the command line: answered with the usage, exit status 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

interface Services {
  projects: ProjectsService;
  keys: ApiKeysService;
  exports: ExportService;
  imports: ImportService;
  deletion: DeletionService;
  dataSource: DataSource;
}

/** Where a command's output goes: results to stdout, progress to stderr. */
interface Output {
  out: (line: string) => void;
  progress: (line: string) => void;
}

interface Command {
  name: string;
  args: string;
  summary: string;
  details?: string;
  options: Options;
  /** Checks the arguments before anything is booted; answers what `run` receives. */
  parse(positionals: string[], values: Values, usage: string): Promise<unknown>;
  run(services: Services, input: never, out: (line: string) => void, progress: (line: string) => void): Promise<void>;
  /** Runs the command against a server's API instead, when `parse` answered `{ remote }`: nothing is booted. */
  runRemote?(input: never, output: Output): Promise<void>;
}

/** Validates with the DTO the HTTP route uses; a problem names the option (or argument) at fault. */
async function validated<T extends object>(cls: new () => T, plain: object, flags: Record<string, string>, usage: string): Promise<T> {
  const { value, details } = await validateDto(cls, plain);
  if (details) throw new UsageError(details.map((d) => `${flags[d.field.split('.')[0]] ?? d.field}: ${d.message}`).join('; '), usage);
  return value;
}

function oneArgument(positionals: string[], what: string, usage: string): string {
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'Too many arguments' : `${what} is required`, usage);
  return positionals[0];
}

function noArguments(positionals: string[], usage: string): void {
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`, usage);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A project by name, or by id for the commands that take either. */
async function projectIdOf(projects: ProjectsService, name: string, byId = false): Promise<string> {
  const project = byId && UUID.test(name) ? await projects.findById(name) : await projects.findByName(name);
  if (!project) throw new AppError(404, 'PROJECT_NOT_FOUND', `No project named "${name}"`);
  return project.id;
}

const projectOption = { project: { type: 'string', short: 'p' } } satisfies Options;
const remoteOptions = { url: { type: 'string' }, key: { type: 'string' } } satisfies Options;
const WHERE =
  `--project, -p NAME|ID  the project, in the database of the current configuration\n` +
  `--url URL              or a server's API, e.g. https://xray.example.com\n` +
  `--key KEY              with this API key (default: XRAY_API_KEY)`;

/** Either --project, or --url with a key: where an export or import goes. */
function target(values: Values, usage: string): { project: string; remote?: undefined } | { remote: Remote; project?: undefined } {
  const key = typeof values.key === 'string' ? values.key : process.env.XRAY_API_KEY;
  if (typeof values.url === 'string') {
    if (typeof values.project === 'string') throw new UsageError('Give --project or --url, not both', usage);
    if (!key) throw new UsageError('--url needs --key KEY (or XRAY_API_KEY)', usage);
    try {
      new URL(values.url);
    } catch {
      throw new UsageError(`--url must be a URL such as http://127.0.0.1:3000, got "${values.url}"`, usage);
    }
    return { remote: { url: values.url, key } };
  }
  if (typeof values.project !== 'string') throw new UsageError('--project NAME|ID (or --url URL) is required', usage);
  return { project: values.project };
}

/** Progress for a person watching: at most one line a second, and the last. */
function throttled(verb: string, print: (line: string) => void): Progress {
  let last = 0;
  return (done: ImportResultDto, final?: boolean) => {
    if (!final && Date.now() - last < 1000) return;
    last = Date.now();
    print(`${verb} ${done.runs} runs, ${done.steps} steps, ${done.candidates} candidates${final ? '' : ' …'}`);
  };
}

type ExportInput = ReturnType<typeof target> & { out: string; query: ExportQueryDto };
type ImportInput = ReturnType<typeof target> & { file: string; partBytes: number };

const COMMANDS: Command[] = [
  {
    name: 'projects:create',
    args: 'NAME',
    summary: 'Create a project and print its first admin key (once)',
    details: 'NAME: letters, digits, ".", "_" and "-", at most 100 characters; unique.',
    options: {},
    parse: (positionals, _values, usage) => validated(CreateProjectDto, { name: oneArgument(positionals, 'NAME', usage) }, { name: 'NAME' }, usage),
    async run({ projects }, dto: CreateProjectDto, out) {
      const created = await projects.create(dto.name);
      out(`Created project ${created.name} (${created.id}).`);
      out(`Admin key ${created.apiKey.id} (shown once): ${created.apiKey.key}`);
    },
  },
  {
    name: 'projects:list',
    args: '',
    summary: 'List the projects: id, name, creation time',
    options: {},
    parse: async (positionals, _values, usage) => noArguments(positionals, usage),
    async run({ projects }, _input: undefined, out) {
      for (const p of await projects.list({ kind: 'root' })) out(`${p.id}  ${p.name}  ${p.createdAt}`);
    },
  },
  {
    name: 'keys:create',
    args: '--project NAME --scopes SCOPES [--name NAME] [--expires DATE]',
    summary: 'Create an API key for a project and print it (once)',
    details:
      `--project, -p NAME   the project\n` +
      `--scopes, -s LIST    comma-separated: ${SCOPES.join(', ')}\n` +
      `--name, -n NAME      what the key is for (default: its scopes, e.g. "ingest key")\n` +
      `--expires DATE       when it stops working, ISO 8601 in the future (default: never)`,
    options: { ...projectOption, scopes: { type: 'string', short: 's' }, name: { type: 'string', short: 'n' }, expires: { type: 'string' } },
    async parse(positionals, values, usage) {
      noArguments(positionals, usage);
      if (typeof values.project !== 'string') throw new UsageError('--project NAME is required', usage);
      if (typeof values.scopes !== 'string') throw new UsageError(`--scopes is required (one or more of: ${SCOPES.join(', ')})`, usage);
      const scopes = [
        ...new Set(
          values.scopes
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        ),
      ];
      const plain = { name: values.name ?? `${scopes.join('+')} key`, scopes, ...(values.expires !== undefined ? { expiresAt: values.expires } : {}) };
      return { project: values.project, dto: await validated(CreateApiKeyDto, plain, { name: '--name', scopes: '--scopes', expiresAt: '--expires' }, usage) };
    },
    async run({ projects, keys }, input: { project: string; dto: CreateApiKeyDto }, out) {
      const created = await keys.createForProject(await projectIdOf(projects, input.project), input.dto);
      out(`Key ${created.id} with scopes ${created.scopes.join(', ')} (shown once): ${created.key}`);
    },
  },
  {
    name: 'keys:list',
    args: '--project NAME',
    summary: "List a project's keys, newest first: id, prefix, scopes, state, name",
    options: projectOption,
    async parse(positionals, values, usage) {
      noArguments(positionals, usage);
      if (typeof values.project !== 'string') throw new UsageError('--project NAME is required', usage);
      return values.project;
    },
    async run({ projects, keys }, project: string, out) {
      const now = new Date().toISOString();
      for (const k of await keys.list(await projectIdOf(projects, project))) {
        const state = k.revokedAt ? 'revoked' : k.expiresAt && k.expiresAt <= now ? 'expired' : 'active';
        out(`${k.id}  ${k.prefix}…  ${k.scopes.join(',')}  ${state}  ${k.name}`);
      }
    },
  },
  {
    name: 'keys:revoke',
    args: 'KEY_ID',
    summary: 'Revoke a key (by its id, as keys:list shows it); takes effect on the next request',
    options: {},
    async parse(positionals, _values, usage) {
      const id = oneArgument(positionals, 'KEY_ID', usage);
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw new UsageError('KEY_ID must be a key id (a UUID)', usage);
      return id;
    },
    async run({ keys }, id: string, out) {
      await keys.revoke(await keys.projectOf(id), id);
      out(`Revoked key ${id}.`);
    },
  },
  {
    name: 'export',
    args: '--out FILE [--pipeline NAME] [--from TIME] [--to TIME] (--project NAME|ID | --url URL --key KEY)',
    summary: "Export a project's runs, steps and candidates to an NDJSON file",
    details:
      `--out, -o FILE         the file to write (replaced)\n` +
      `--pipeline NAME        only runs of this pipeline\n` +
      `--from, --to TIME      only runs started in [from, to), ISO 8601\n` +
      `${WHERE}\n\n` +
      'Over --url, a connection lost midway is taken up again after the last complete run.',
    options: {
      ...projectOption,
      ...remoteOptions,
      out: { type: 'string', short: 'o' },
      pipeline: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
    },
    async parse(positionals, values, usage) {
      noArguments(positionals, usage);
      if (typeof values.out !== 'string') throw new UsageError('--out FILE is required', usage);
      const plain = Object.fromEntries((['pipeline', 'from', 'to'] as const).filter((k) => values[k] !== undefined).map((k) => [k, values[k]]));
      const query = await validated(ExportQueryDto, plain, { pipeline: '--pipeline', from: '--from', to: '--to' }, usage);
      return { ...target(values, usage), out: values.out, query } satisfies ExportInput;
    },
    async run({ projects, exports }, input: ExportInput, out, progress) {
      const projectId = await projectIdOf(projects, input.project!, true);
      const done = await exportToFile(exports.lines(projectId, exports.plan(input.query)), input.out, throttled('exported', progress));
      out(`Exported ${done.runs} runs, ${done.steps} steps, ${done.candidates} candidates to ${input.out}.`);
    },
    async runRemote(input: ExportInput, { out, progress }) {
      const done = await exportOverHttp(
        input.remote!,
        { pipeline: input.query.pipeline, from: input.query.from, to: input.query.to },
        input.out,
        throttled('exported', progress),
      );
      out(`Exported ${done.runs} runs, ${done.steps} steps, ${done.candidates} candidates to ${input.out}.`);
    },
  },
  {
    name: 'import',
    args: 'FILE (--project NAME|ID | --url URL --key KEY [--part-size SIZE])',
    summary: 'Import an export file into a project (ids kept; importing it again changes nothing)',
    details:
      `FILE                   an NDJSON file that \`xray export\` or GET /v1/export wrote\n` +
      `${WHERE}\n` +
      `--part-size SIZE       over --url, send the file in requests of about this size, under the server's XRAY_MAX_BODY (default 4mb)`,
    options: { ...projectOption, ...remoteOptions, 'part-size': { type: 'string' } },
    async parse(positionals, values, usage) {
      const file = oneArgument(positionals, 'FILE', usage);
      if (!existsSync(file)) throw new UsageError(`No file ${file}`, usage);
      const partBytes = parseSize(typeof values['part-size'] === 'string' ? values['part-size'] : '4mb');
      if (partBytes === undefined) throw new UsageError('--part-size must be a size such as 4mb or 512kb', usage);
      return { ...target(values, usage), file, partBytes } satisfies ImportInput;
    },
    async run({ projects, imports }, input: ImportInput, out, progress) {
      const projectId = await projectIdOf(projects, input.project!, true);
      const done = await importFromFile(input.file, (lines, report) => imports.importLines(projectId, lines, report), throttled('imported', progress));
      out(`Imported ${done.runs} runs, ${done.steps} steps, ${done.candidates} candidates from ${input.file}.`);
    },
    async runRemote(input: ImportInput, { out, progress }) {
      const done = await importOverHttp(input.remote!, input.file, input.partBytes, throttled('imported', progress));
      out(`Imported ${done.runs} runs, ${done.steps} steps, ${done.candidates} candidates from ${input.file}.`);
    },
  },
  {
    name: 'delete-runs',
    args: '--project NAME [--pipeline NAME] [--status STATUS] [--before DATE] [--chunk N]',
    summary: "Delete a project's runs matching a filter, with their steps and candidates, printing progress",
    details:
      `--project, -p NAME   the project\n` +
      `--pipeline NAME      only runs of this pipeline\n` +
      `--status STATUS      only runs with this status: ${RUN_STATUSES.join(', ')}\n` +
      `--before DATE        only runs started before this time (ISO 8601)\n` +
      `--chunk N            runs per transaction (default ${BULK_PACE.chunk}; ingest waits at most one chunk)\n` +
      'At least one of --pipeline, --status and --before. Analytics stops counting the runs; their ids cannot be used again.',
    options: { ...projectOption, pipeline: { type: 'string' }, status: { type: 'string' }, before: { type: 'string' }, chunk: { type: 'string' } },
    async parse(positionals, values, usage) {
      noArguments(positionals, usage);
      if (typeof values.project !== 'string') throw new UsageError('--project NAME is required', usage);
      const filter = { pipeline: values.pipeline, status: values.status, before: values.before };
      if (Object.values(filter).every((v) => v === undefined)) throw new UsageError('Name at least one of --pipeline, --status and --before', usage);
      const chunk = values.chunk === undefined ? BULK_PACE.chunk : Number(values.chunk);
      if (!Number.isInteger(chunk) || chunk < 1 || chunk > 5000) throw new UsageError('--chunk must be a whole number from 1 to 5000', usage);
      const dto = await validated(DeleteRunsDto, filter, { pipeline: '--pipeline', status: '--status', before: '--before' }, usage);
      return { project: values.project, dto, chunk };
    },
    async run({ projects, deletion }, input: { project: string; dto: DeleteRunsDto; chunk: number }, out) {
      const projectId = await projectIdOf(projects, input.project);
      const done = await deletion.deleteRuns(
        { projectId, keyId: null },
        input.dto,
        (d) => out(`Deleted ${d.done} of ${d.total} runs (${d.counts.steps} steps, ${d.counts.candidates} candidates)`),
        { chunk: input.chunk, pauseMs: 0 },
      );
      out(`Deletion ${done.id} ${done.status}: ${done.counts.runs} runs, ${done.counts.steps} steps, ${done.counts.candidates} candidates.`);
    },
  },
  {
    name: 'citus:distribute',
    args: '',
    summary: 'Distribute the database over its Citus cluster in place (after installing Citus and registering workers)',
    details:
      'Creates the citus extension if missing, makes the small tables reference tables and distributes the others by project\n' +
      '(runs, steps, candidates, scores, ingest ids, rollups), moving their rows to the workers. Tables already distributed are\n' +
      "left as they are. XRAY_CITUS_SHARD_COUNT sets the shards per table (default: Citus's citus.shard_count).",
    options: {},
    async parse(positionals, _values, usage) {
      noArguments(positionals, usage);
      return {};
    },
    async run({ dataSource }, _input: object, out, progress) {
      const plan = await dataSource.transaction(async (tx) => {
        if (!(await citusInstalled(tx))) await tx.query('CREATE EXTENSION citus');
        return distributeTables(tx, { shardCount: citusShardCount(), log: progress });
      });
      const count = (kind: string) => plan.filter((p) => p.kind === kind).length;
      out(`Distributed ${count('distributed')} table(s), made ${count('reference')} reference table(s); ${count('local')} stay on the coordinator.`);
    },
  },
  {
    name: 'citus:columnar',
    args: '--older-than DAYS',
    summary: "Convert candidates' day partitions older than DAYS days to Citus columnar storage (compressed; read-only)",
    details:
      '--older-than DAYS   whole UTC days older than this many days are converted (at least 1)\n' +
      'A converted day cannot take new candidates, replays, erasures or run deletions; it leaves by retention as before.',
    options: { 'older-than': { type: 'string' } },
    async parse(positionals, values, usage) {
      noArguments(positionals, usage);
      const days = Number(values['older-than']);
      if (values['older-than'] === undefined || !Number.isInteger(days) || days < 1)
        throw new UsageError('--older-than DAYS must be a whole number of days, at least 1', usage);
      return { days };
    },
    async run({ dataSource }, input: { days: number }, out, progress) {
      if (!(await citusInstalled(dataSource))) throw new AppError(400, 'NOT_CITUS', 'The database is not a Citus coordinator (no citus extension)');
      const converted = await convertToColumnar(dataSource, addDays(dayOf(Date.now()), -input.days), progress);
      out(`Converted ${converted.length} partition(s) of candidates to columnar storage.`);
    },
  },
];

const commandUsage = (c: Command) => `Usage: xray ${c.name}${c.args ? ` ${c.args}` : ''}\n\n${c.summary}.${c.details ? `\n\n${c.details}` : ''}`;

export const USAGE = [
  'Usage: xray <command> [options]     (npm run xray -- <command> [options])',
  '',
  'Commands:',
  ...COMMANDS.map((c) => `  ${c.name.padEnd(17)}${c.summary}`),
  '',
  "xray <command> --help shows a command's options. Uses DATABASE_URL, or the embedded database",
  'in XRAY_DATA_DIR (default ./.xray/data); pending migrations are applied first.',
].join('\n');

const HELP = new Set(['--help', '-h', 'help']);

/** Runs one command line. Throws UsageError (exit 2) or any other error (exit 1). */
export async function runCli(
  argv: string[],
  out: (line: string) => void = console.log,
  logger: LogLevel[] | false = false,
  progress: (line: string) => void = console.error,
): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined) throw new UsageError('No command given', USAGE);
  if (HELP.has(name)) {
    const topic = rest[0] === undefined ? undefined : COMMANDS.find((c) => c.name === rest[0]);
    if (rest[0] !== undefined && !topic) throw new UsageError(`Unknown command "${rest[0]}"`, USAGE);
    out(topic ? commandUsage(topic) : USAGE);
    return;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new UsageError(`Unknown command "${name}"`, USAGE);
  const usage = commandUsage(command);
  if (rest.some((a) => a === '--help' || a === '-h')) {
    out(usage);
    return;
  }
  let parsed: { positionals: string[]; values: Values };
  try {
    parsed = parseArgs({ args: rest, allowPositionals: true, strict: true, options: command.options }) as typeof parsed;
  } catch (err) {
    throw new UsageError((err as Error).message, usage);
  }
  const input = await command.parse(parsed.positionals, parsed.values, usage);
  if (command.runRemote && (input as { remote?: Remote }).remote) return command.runRemote(input as never, { out, progress });

  loadConfig(); // a bad setting is reported before anything starts
  let app: INestApplicationContext | undefined;
  try {
    app = await NestFactory.createApplicationContext(CliModule, { logger, abortOnError: false });
    const services = {
      projects: app.get(ProjectsService),
      keys: app.get(ApiKeysService),
      exports: app.get(ExportService),
      imports: app.get(ImportService),
      deletion: app.get(DeletionService),
      dataSource: app.get(DataSource),
    };
    await command.run(services, input as never, out, progress);
  } finally {
    await app?.close();
  }
}

/** The message printed for a failure: what went wrong, never a stack trace. */
export function describeFailure(err: unknown): string {
  if (err instanceof AppError) return `${err.message}${err.details?.length ? `: ${err.details.map((d) => d.message).join('; ')}` : ''}`;
  if (err instanceof ConfigError) return err.message;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `${err.name}${typeof code === 'string' ? ` (${code})` : ''}: ${err.message}`;
  }
  return String(err);
}

if (isMainModule(import.meta.url)) {
  runCli(process.argv.slice(2)).then(
    () => process.exit(0),
    (err) => {
      if (err instanceof UsageError) {
        console.error(`${err.message}\n\n${err.usage}`);
        process.exit(2);
      }
      console.error(`xray ${process.argv[2]}: ${describeFailure(err)}`);
      process.exit(1);
    },
  );
}
