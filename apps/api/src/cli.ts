/**
 * Operator commands that work without HTTP, for bootstrapping and emergencies
 * (`npm run xray -- --help`). Each command boots a Nest application context with the
 * configuration, the database (migrations applied first, like the server) and the project and
 * key services, and calls those services: the CLI writes nothing itself. Talks to DATABASE_URL
 * or the embedded database in XRAY_DATA_DIR. Secrets are printed once, to stdout, and stored
 * only as hashes. Exit status: 0 done, 1 failed, 2 usage error.
 */
import 'reflect-metadata';
import { type INestApplicationContext, type LogLevel, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ApiKeysRepository } from './auth/api-keys.repository.js';
import { ApiKeysService } from './auth/api-keys.service.js';
import { CreateApiKeyDto } from './auth/api-keys.dto.js';
import { AppError } from './common/app-error.js';
import { isMainModule } from './common/main-module.js';
import { validateDto } from './common/validation.js';
import { ConfigModule } from './config/config.module.js';
import { ConfigError, loadConfig } from './config/config.js';
import { DatabaseModule } from './database/database.module.js';
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
  imports: [ConfigModule, DatabaseModule],
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
  deletion: DeletionService;
}

interface Command {
  name: string;
  args: string;
  summary: string;
  details?: string;
  options: Options;
  /** Checks the arguments before anything is booted; answers what `run` receives. */
  parse(positionals: string[], values: Values, usage: string): Promise<unknown>;
  run(services: Services, input: never, out: (line: string) => void): Promise<void>;
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

async function projectIdOf(projects: ProjectsService, name: string): Promise<string> {
  const project = await projects.findByName(name);
  if (!project) throw new AppError(404, 'PROJECT_NOT_FOUND', `No project named "${name}"`);
  return project.id;
}

const projectOption = { project: { type: 'string', short: 'p' } } satisfies Options;

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
export async function runCli(argv: string[], out: (line: string) => void = console.log, logger: LogLevel[] | false = false): Promise<void> {
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

  loadConfig(); // a bad setting is reported before anything starts
  let app: INestApplicationContext | undefined;
  try {
    app = await NestFactory.createApplicationContext(CliModule, { logger, abortOnError: false });
    await command.run({ projects: app.get(ProjectsService), keys: app.get(ApiKeysService), deletion: app.get(DeletionService) }, input as never, out);
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
