import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSnapshot, isFailing, type ReplayOption, type ShadowOption } from '../check/index.js';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { MigrationDirtyError } from '../errors/migration-dirty.error.js';
import { MigrationHistoryError } from '../errors/migration-history.error.js';
import { PendingMigrationsError } from '../errors/pending-migrations.error.js';
import type { MigrationOperationsApi } from '../operations/migration-operations.js';
import type { ResolvedAs } from '../operations/resolve-migration.js';
import type { MigrationTimeoutOptions } from '../options/auto-migrator-options.interface.js';
import { SecretRedactor } from '../util/secret-redactor.js';
import { CliLogger } from './cli-logger.js';
import { applyBaseline, baselineOf, parseBaseline } from './drift-baseline.js';
import {
  formatCheck,
  formatDown,
  formatPlan,
  formatSnapshot,
  formatResolve,
  formatStatus,
  formatUp,
  strictStatusProblems,
  type CliJsonResult,
} from './cli-output.js';
import { appTarget, dataSourceTarget, type CliTarget } from './cli-target.js';

/** Exit codes: success, pending or failed, usage or configuration error. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const COMMANDS = ['status', 'up', 'down', 'ensure-up', 'plan', 'check', 'snapshot', 'resolve'] as const;
type Command = (typeof COMMANDS)[number];

export const USAGE = `Usage: auto-migrator <command> (--data-source <file> | --app <file>[#Export]) [options]

Commands:
  status       applied, pending, unknown and changed migrations (and, PostgreSQL, INVALID indexes)
  up           run pending migrations (under the migration lock, through the strategy)
  down --to <v>  revert every applied migration newer than <v> (name, 13-digit timestamp, or 0 for all)
  ensure-up    exit 1 when any migration is pending (or the history policies refuse the migrations table)
  plan         dry run: the SQL pending migrations execute, rolled back (PostgreSQL, MySQL/MariaDB: in a shadow
               database, never on the live tables; SQLite: on the file)
  check        before a rolling deploy: the pending migrations run in a shadow database (see
               --shadow-url), never on the live tables; what each statement does (PostgreSQL: read by
               its parser, with the locks it reports; MySQL/MariaDB: the server's answer to ALGORITHM
               and LOCK clauses, and the catalog before and after) is checked for locks that would
               stall the running release (graded by the live tables' size), against today's rows,
               and, with --snapshot, against what the previous release's entities still map; exit 1
               on an error-level finding. The live database is only read
  snapshot --out <file>
               what this build's entities map (tables, columns) per DataSource, for check --snapshot;
               commit it at release
  resolve <migration> (--applied | --not-applied | --accept-change)
               after repairing the schema by hand: mark a migration that was started and never
               finished (status: "dirty") as applied, or as not applied (it runs again on up);
               or accept the edit of an applied migration (status: "changed") as it is now

Target (one of):
  --data-source <file>   a module exporting a TypeORM DataSource
  --app <file>[#Export]  a module exporting the Nest root module (default export name: AppModule)
  TypeScript files: loaded through the app's own ts-node (transpile-only) when no loader is given; or give one:
                         NODE_OPTIONS="--require ts-node/register", or NODE_OPTIONS="--import tsx" (no decorator metadata)

Options:
  --env-file <path>      read environment variables from this file first (Node's .env parser; repeatable;
                         a variable already set wins)
  --name <dataSource>    only this DataSource (with --app; the names AutoMigratorModule migrates)
  --to <version>         target of down
  --applied              with resolve: record the migration as applied
  --not-applied          with resolve: record it as not applied
  --accept-change        with resolve: record this build's checksum of an applied migration edited since it ran
  --tenants              with --app: status, up and down also cover (down: only) the tenant schemas;
                         resolve --accept-change accepts the edit in every tenant that has it applied
  --timeout <ms>         plan, check: stop the dry run after this long (default 300000)
  --lock-timeout <ms>    plan, check: stop when a statement waits this long for a lock (default 10000; PostgreSQL);
                         up, down with --data-source: the migrations' lock timeout (migrationTimeouts.lockTimeoutMs)
  --statement-timeout <ms>
                         up, down with --data-source: the longest a migration statement may run
                         (migrationTimeouts.statementTimeoutMs); with --app, set migrationTimeouts in the module
  --shadow-url <url>     plan, check (PostgreSQL): the database the pending migrations run in instead of the
                         live one: a clone or branch of production, or an empty database (filled with the live
                         schema, emptied after); default SHADOW_DATABASE_URL, else a temporary database on the
                         live server (CREATEDB needed; the schema copied by pg_dump, else from the catalog),
                         dropped at the end; status --schema --replay: the empty database the history is replayed in
  --schema               with status: also each DataSource's entities against its live schema, read-only: the
                         statements a generated migration (typeorm migration:generate) would hold
  --replay               with status --schema: also the history against the live schema: the applied
                         migrations replayed in an empty shadow database (--shadow-url or SHADOW_DATABASE_URL, on
                         another server; SQLite: a temporary file), the two schemas compared object by object
  --replay-on-live-server
                         with --replay: allow the shadow on the live server (a temporary database there, CREATEDB
                         needed, or a URL on it); statements that could reach outside the shadow stop the replay
  --baseline <file>      with status --schema: differences this file accepts (--write-baseline) are shown as accepted,
                         not counted by --strict; a difference it lists that is gone is said
  --write-baseline <file>
                         with status --schema: accept today's differences: write them to this file
  --strict               with status: exit 1 when the migrations table does not fit this build (a migration
                         changed since it ran, unknown or out of order), a migration is dirty, an index
                         INVALID, or (--schema) the live schema differs from the entities or (--replay) from the
                         history; with ensure-up: also exit 1 on a changed, unknown or out-of-order migration;
                         with check: also exit 1 when a pending migration could not be checked
  --snapshot <file>      with check: the previous release's snapshot; changes that break what it maps are findings
  --running-builds       with check: also every build recorded as booted in the last 30 days (the option
                         runningBuilds; with --app, its window)
  --out <file>           with snapshot: where to write it
  --build <id>           with snapshot: the build's name in it (default: name@version of ./package.json)
  --json                 print the result as JSON on stdout
  -h, --help             this text

Exit codes: 0 success, 1 pending (ensure-up), a failed or dirty migration, a running migration's lock (resolve),
a history policy's refusal, an error-level finding (check), or what --strict adds, 2 usage or configuration error.`;

/** The command line's flags, as node:util parseArgs reads them. */
const FLAGS = {
  'data-source': { type: 'string' },
  app: { type: 'string' },
  'env-file': { type: 'string', multiple: true },
  name: { type: 'string' },
  to: { type: 'string' },
  timeout: { type: 'string' },
  'lock-timeout': { type: 'string' },
  'statement-timeout': { type: 'string' },
  'shadow-url': { type: 'string' },
  tenants: { type: 'boolean', default: false },
  applied: { type: 'boolean', default: false },
  'not-applied': { type: 'boolean', default: false },
  'accept-change': { type: 'boolean', default: false },
  strict: { type: 'boolean', default: false },
  schema: { type: 'boolean', default: false },
  replay: { type: 'boolean', default: false },
  baseline: { type: 'string' },
  'write-baseline': { type: 'string' },
  'replay-on-live-server': { type: 'boolean', default: false },
  snapshot: { type: 'string' },
  'running-builds': { type: 'boolean', default: false },
  out: { type: 'string' },
  build: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stderr is a terminal: progress lines replace each other on one live line. */
  stderrIsTerminal?: boolean;
}

/** Runs the CLI; resolves with the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: FLAGS,
    });
  } catch (error) {
    return usage(io, error instanceof Error ? error.message : String(error), argv.includes('--json'));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return EXIT.ok;
  }
  const json = values.json;
  const [command, ...rest] = positionals;
  const [migration, extra] = command === 'resolve' ? [rest[0], rest.slice(1)] : [undefined, rest];
  const problem = argumentProblem(command, migration, extra, values);
  if (problem !== undefined) return usage(io, problem, json, command);
  const limits = planLimits(command!, values);
  if (typeof limits === 'string') return usage(io, limits, json, command);
  const timeouts = migrationTimeouts(command!, values);
  if (typeof timeouts === 'string') return usage(io, timeouts, json, command);
  const envProblem = loadEnvFiles(values['env-file'] ?? []);
  if (envProblem !== undefined) return usage(io, envProblem, json, command);
  const shadow = shadowOption(command!, values['shadow-url'], values.replay);
  if (typeof shadow === 'string') return usage(io, shadow, json, command);

  const started = performance.now();
  const logger = new CliLogger(io.stderr, io.stderrIsTerminal === true);
  const run = () =>
    runCommand(command as Command, io, {
      target: () => (values.app ? appTarget(values.app, logger) : dataSourceTarget(values['data-source']!, logger, timeouts)),
      logger,
      scope: { ...(values.name === undefined ? {} : { dataSource: values.name }), ...(values.tenants ? { tenants: true } : {}) },
      args: {
        to: values.to,
        limits,
        shadow,
        strict: values.strict,
        schema: values.schema,
        replay: values.replay ? { ...shadow, onLiveServer: values['replay-on-live-server'] } : undefined,
        baseline: values.baseline,
        writeBaseline: values['write-baseline'],
        snapshot: values.snapshot,
        runningBuilds: values['running-builds'],
        out: values.out,
        build: values.build,
        resolve: { migration: migration!, as: values.applied ? 'applied' : values['accept-change'] ? 'change-accepted' : 'not-applied' },
      },
    });
  // stdout is the result alone (the plan's SQL, the one JSON document): whatever else would print
  // there while the command runs (TypeORM's query log, migrations' console.log) goes to stderr.
  const outcome = await stdoutToStderr(run);
  logger.finish();
  if (json) {
    const document: CliJsonResult = {
      command: command!,
      ok: outcome.code === EXIT.ok,
      exitCode: outcome.code,
      durationMs: Math.round(performance.now() - started),
      dataSources: outcome.dataSources,
      ...(outcome.error ? { error: outcome.error } : {}),
      ...(outcome.strict ? { strict: outcome.strict } : {}),
    };
    io.stdout(`${JSON.stringify(document, null, 2)}\n`);
  } else if (outcome.text !== undefined) {
    io.stdout(`${outcome.text}\n`);
  }
  return outcome.code;
}

/** What is wrong with the command line, if anything. */
function argumentProblem(
  command: string | undefined,
  migration: string | undefined,
  extra: readonly string[],
  values: {
    'data-source'?: string;
    app?: string;
    name?: string;
    to?: string;
    tenants?: boolean;
    applied?: boolean;
    'not-applied'?: boolean;
    'accept-change'?: boolean;
    strict?: boolean;
    schema?: boolean;
    replay?: boolean;
    'replay-on-live-server'?: boolean;
    baseline?: string;
    'write-baseline'?: string;
    snapshot?: string;
    out?: string;
    build?: string;
  },
): string | undefined {
  if (!command) return 'no command given';
  if (!(COMMANDS as readonly string[]).includes(command)) return `unknown command "${command}"; commands: ${COMMANDS.join(', ')}`;
  if (command === 'resolve' && migration === undefined)
    return 'resolve needs the migration: resolve <migration> --applied | --not-applied | --accept-change';
  if (extra.length > 0) return `unexpected argument(s): ${extra.join(' ')}`;
  const resolutions = [values.applied, values['not-applied'], values['accept-change']].filter(Boolean).length;
  if (command === 'resolve' && resolutions !== 1) return 'resolve needs exactly one of --applied, --not-applied or --accept-change';
  if (command !== 'resolve' && resolutions > 0) return `--applied, --not-applied and --accept-change go with resolve, not ${command}`;
  if (command === 'resolve' && values.tenants && !values['accept-change'])
    return '--tenants goes with resolve --accept-change only: a dirty tenant migration is resolved in the application';
  if (!values['data-source'] === !values.app) return 'give exactly one of --data-source <file> or --app <file>[#Export]';
  if (command === 'down' && values.to === undefined)
    return 'down needs --to <version> (a migration name, its 13-digit timestamp, or 0 for all)';
  if (command !== 'down' && values.to !== undefined) return `--to goes with down, not ${command}`;
  if (values['data-source'] && values.name !== undefined) return '--name goes with --app; a --data-source file has one DataSource';
  if (values['data-source'] && values.tenants) return '--tenants goes with --app: tenants are configured in AutoMigratorModule';
  if (values.tenants && (command === 'plan' || command === 'check')) return `--tenants does not go with ${command}`;
  if (values.schema && command !== 'status') return `--schema goes with status, not ${command}`;
  if ((values.replay || values['replay-on-live-server']) && !values.schema)
    return '--replay and --replay-on-live-server go with status --schema (the history against the live schema)';
  if (values['replay-on-live-server'] && !values.replay) return '--replay-on-live-server goes with --replay';
  if ((values.baseline !== undefined || values['write-baseline'] !== undefined) && !values.schema)
    return '--baseline and --write-baseline go with status --schema';
  if (values.baseline !== undefined && values['write-baseline'] !== undefined) return 'give --baseline or --write-baseline, not both';
  if (values.baseline !== undefined && !existsSync(values.baseline))
    return `--baseline ${values.baseline}: no such file (looked at ${resolve(values.baseline)}); write one with --write-baseline`;
  if (values.schema && values.tenants)
    return '--schema does not go with --tenants: it compares the entities with the schema of each DataSource';
  if (values.strict && !STRICT_COMMANDS.has(command)) return `--strict goes with status, ensure-up or check, not ${command}`;
  return snapshotProblem(command, values);
}

/** What is wrong with the snapshot flags, if anything. */
function snapshotProblem(
  command: string,
  values: { snapshot?: string; out?: string; build?: string; tenants?: boolean; 'running-builds'?: boolean },
): string | undefined {
  if (values.snapshot !== undefined && command !== 'check') return `--snapshot goes with check, not ${command}`;
  if (values['running-builds'] && command !== 'check') return `--running-builds goes with check, not ${command}`;
  if (values.snapshot !== undefined && !existsSync(values.snapshot))
    return `--snapshot ${values.snapshot}: no such file (looked at ${resolve(values.snapshot)})`;
  if (command === 'snapshot' && values.out === undefined) return 'snapshot needs --out <file>: where to write it';
  if (command !== 'snapshot' && (values.out !== undefined || values.build !== undefined))
    return `--out and --build go with snapshot, not ${command}`;
  if (values.tenants && command === 'snapshot') return '--tenants does not go with snapshot';
  return undefined;
}

/**
 * `--env-file <path>` (repeatable): read into process.env with Node's own parser before the file is
 * loaded; a variable already set is kept (as dotenv's config() and Node's --env-file do).
 */
function loadEnvFiles(files: readonly string[]): string | undefined {
  for (const file of files) {
    if (!existsSync(file)) return `--env-file ${file}: no such file (looked at ${resolve(file)})`;
    try {
      process.loadEnvFile(file);
    } catch (error) {
      return `--env-file ${file} could not be read: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return undefined;
}

/** `--timeout` / `--lock-timeout` of plan and check, in ms; or what is wrong with them. */
function planLimits(command: string, values: { timeout?: string; 'lock-timeout'?: string }): PlanLimits | string {
  const limits: PlanLimits = {};
  if (!DRY_RUNS.has(command)) {
    if (values.timeout !== undefined) return `--timeout goes with plan or check, not ${command}`;
    return limits;
  }
  for (const [flag, key] of [
    ['timeout', 'timeoutMs'],
    ['lock-timeout', 'lockTimeoutMs'],
  ] as const) {
    const value = milliseconds(flag, values[flag]);
    if (typeof value === 'string') return value;
    if (value !== undefined) limits[key] = value;
  }
  return limits;
}

const DRY_RUNS = new Set(['plan', 'check']);
const STRICT_COMMANDS = new Set(['status', 'ensure-up', 'check']);
const MIGRATING = new Set(['up', 'down']);

/**
 * `--lock-timeout` / `--statement-timeout` of up and down with --data-source: the option
 * migrationTimeouts for this run (with --app, the module's option applies); or what is wrong.
 */
function migrationTimeouts(
  command: string,
  values: { 'lock-timeout'?: string; 'statement-timeout'?: string; app?: string },
): MigrationTimeoutOptions | string {
  const timeouts: { lockTimeoutMs?: number; statementTimeoutMs?: number } = {};
  for (const [flag, key] of [
    ['lock-timeout', 'lockTimeoutMs'],
    ['statement-timeout', 'statementTimeoutMs'],
  ] as const) {
    if (values[flag] === undefined || (flag === 'lock-timeout' && DRY_RUNS.has(command))) continue;
    if (!MIGRATING.has(command))
      return `--${flag} goes with ${flag === 'lock-timeout' ? 'plan, check, up or down' : 'up or down'}, not ${command}`;
    if (values.app !== undefined) {
      return `--${flag} goes with --data-source; with --app, set migrationTimeouts.${key} in AutoMigratorModule's options`;
    }
    const value = milliseconds(flag, values[flag]);
    if (typeof value === 'string') return value;
    if (value !== undefined) timeouts[key] = value;
  }
  return timeouts;
}

/** A flag's whole number of ms, or what is wrong with it. */
function milliseconds(flag: string, value: string | undefined): number | undefined | string {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,9}$/.test(value) || Number(value) > 2_147_483_647)
    return `--${flag} takes a whole number of ms (1 to 2147483647); got "${value}"`;
  return Number(value);
}

type PlanLimits = { timeoutMs?: number; lockTimeoutMs?: number };

/** plan, check and status --replay: `--shadow-url`, else SHADOW_DATABASE_URL (read after --env-file); or what is wrong with it. */
function shadowOption(command: string, flag: string | undefined, replay = false): ShadowOption | undefined | string {
  const uses = DRY_RUNS.has(command) || replay;
  if (flag !== undefined && !uses) return `--shadow-url goes with plan, check or status --schema --replay, not ${command}`;
  if (flag === '') return '--shadow-url needs a URL (postgres://user@host:5432/database)';
  if (!uses) return undefined;
  const url = flag ?? (process.env.SHADOW_DATABASE_URL || undefined);
  return url === undefined ? undefined : { url };
}

/** What the command line gives the commands beyond the target and scope. */
interface CommandArgs {
  readonly to: string | undefined;
  readonly limits: PlanLimits;
  /** plan and check: the shadow database to use (else a temporary one). */
  readonly shadow: ShadowOption | undefined;
  readonly strict: boolean;
  /** status: also the entities against the live schema, and (replay) the history against it. */
  readonly schema: boolean;
  readonly replay: ReplayOption | undefined;
  /** status --schema: a drift baseline to apply, or the file to write today's differences to. */
  readonly baseline: string | undefined;
  readonly writeBaseline: string | undefined;
  /** check: the previous release's snapshot file, and whether to hold the migrations against the recorded builds too. */
  readonly snapshot: string | undefined;
  readonly runningBuilds: boolean;
  /** snapshot: where to write it, and the build's name. */
  readonly out: string | undefined;
  readonly build: string | undefined;
  readonly resolve: { migration: string; as: ResolvedAs };
}

interface CommandOutcome {
  code: number;
  dataSources: readonly object[];
  /** The human output (stdout without --json); absent after a failure, which is told on stderr. */
  text?: string;
  error?: CliJsonResult['error'];
  /** status --strict: why it exits 1. */
  strict?: readonly string[];
}

/** Connects, runs the command, lets go of the connections. Never throws: a failure is told on stderr and returned. */
async function runCommand(
  command: Command,
  io: CliIo,
  options: { target: () => Promise<CliTarget>; logger: CliLogger; scope: { dataSource?: string; tenants?: boolean }; args: CommandArgs },
): Promise<CommandOutcome> {
  let target: CliTarget | undefined;
  let redactor = new SecretRedactor();
  try {
    target = await options.target();
    redactor = target.redactor;
    options.logger.useRedactor(redactor);
    return await execute(command, target.operations, options.scope, options.args);
  } catch (error) {
    redactor.scrub(error);
    options.logger.finish();
    const code = error instanceof AutoMigratorConfigError ? EXIT.usage : EXIT.failed;
    const name = error instanceof Error ? error.name : 'Error';
    const message = redactor.message(error);
    io.stderr(`${name}: ${message}\n`);
    const details =
      error instanceof PendingMigrationsError
        ? { pending: error.pending }
        : error instanceof MigrationDirtyError
          ? { dirty: error.started.map((m) => ({ ...m, dataSource: error.dataSource })) }
          : error instanceof MigrationHistoryError
            ? { changed: error.changed, unknown: error.unknown, outOfOrder: error.outOfOrder }
            : {};
    return { code, dataSources: [], error: { name, message, ...details } };
  } finally {
    await target?.close().catch(() => undefined);
  }
}

/**
 * Runs `work` with everything written to process.stdout sent to stderr instead: migrations'
 * console.log, TypeORM's logger, Nest's. Replaced at the stream, so any writer is caught.
 */
async function stdoutToStderr<T>(work: () => Promise<T>): Promise<T> {
  const stdout = process.stdout;
  const original = Object.getOwnPropertyDescriptor(stdout, 'write');
  stdout.write = ((...args: unknown[]) => (process.stderr.write as (...args: unknown[]) => boolean)(...args)) as typeof stdout.write;
  try {
    return await work();
  } finally {
    if (original) Object.defineProperty(stdout, 'write', original);
    else delete (stdout as Partial<typeof stdout>).write;
  }
}

async function execute(
  command: Command,
  operations: MigrationOperationsApi,
  scope: { dataSource?: string; tenants?: boolean },
  { to, limits, shadow, strict, schema, replay, baseline, writeBaseline, snapshot, runningBuilds, out, build, resolve }: CommandArgs,
): Promise<CommandOutcome> {
  switch (command) {
    case 'status':
      return statusCommand(operations, scope, { strict, schema, replay, baseline, writeBaseline });
    case 'up': {
      const results = await operations.up(scope);
      const failed = results.some((result) => result.status !== 'done');
      return { dataSources: results, text: formatUp(results), code: failed ? EXIT.failed : EXIT.ok };
    }
    case 'down': {
      const results = scope.tenants ? await operations.downTenants({ ...scope, to: to! }) : [await operations.down({ ...scope, to: to! })];
      return { dataSources: results, text: results.map(formatDown).join('\n'), code: EXIT.ok };
    }
    case 'ensure-up': {
      const statuses = await operations.ensureUp({ ...scope, strict });
      return {
        dataSources: statuses.map((status) => ({
          dataSource: status.dataSource,
          ...(status.tenant ? { tenant: status.tenant } : {}),
          pending: [],
        })),
        text: 'No pending migrations.',
        code: EXIT.ok,
      };
    }
    case 'resolve': {
      const result = await operations.resolve({ ...scope, ...resolve });
      return { dataSources: [result], text: formatResolve(result), code: EXIT.ok };
    }
    case 'plan': {
      const results = await operations.plan({
        ...(scope.dataSource === undefined ? {} : { dataSource: scope.dataSource }),
        ...limits,
        ...(shadow ? { shadow } : {}),
      });
      const complete = results.every((result) => result.complete);
      return { dataSources: results, text: formatPlan(results), code: complete ? EXIT.ok : EXIT.failed };
    }
    case 'check':
      return checkCommand(operations, scope.dataSource, limits, { strict, snapshot, runningBuilds, shadow });
    case 'snapshot':
      return snapshotCommand(operations, scope.dataSource, out!, build);
  }
}

/**
 * status: what the migrations table says; with --schema the drift, less what a baseline accepts
 * (or written to one); with --strict exit 1 on what needs attention (see strictStatusProblems).
 */
async function statusCommand(
  operations: MigrationOperationsApi,
  scope: { dataSource?: string; tenants?: boolean },
  options: Pick<CommandArgs, 'strict' | 'schema' | 'replay' | 'baseline' | 'writeBaseline'>,
): Promise<CommandOutcome> {
  const { strict, schema, replay, baseline, writeBaseline } = options;
  const accepted = baseline === undefined ? undefined : parseBaseline(readFileSync(baseline, 'utf8'), baseline);
  const read = await operations.status({ ...scope, schema, ...(replay ? { replay } : {}) });
  if (writeBaseline !== undefined) {
    // The DataSources not read this time (--name) keep what the file accepted for them.
    const kept = existsSync(writeBaseline) ? parseBaseline(readFileSync(writeBaseline, 'utf8'), writeBaseline) : undefined;
    const written = baselineOf(read);
    const merged = { ...written, dataSources: { ...kept?.dataSources, ...written.dataSources } };
    writeFileSync(writeBaseline, `${JSON.stringify(merged, null, 2)}\n`);
  }
  const statuses = accepted ? applyBaseline(read, accepted) : writeBaseline !== undefined ? applyBaseline(read, baselineOf(read)) : read;
  const text = formatStatus(statuses) + (writeBaseline === undefined ? '' : `\n\nWrote the drift baseline to ${writeBaseline}.`);
  const problems = strict ? strictStatusProblems(statuses) : [];
  if (problems.length === 0) return { dataSources: statuses, text, code: EXIT.ok };
  return {
    dataSources: statuses,
    text: `${text}\n\nExit 1 (--strict):\n${problems.map((line) => `  ${line}`).join('\n')}`,
    code: EXIT.failed,
    strict: problems,
  };
}

/** check: the findings; exit 1 on an error (with --strict also on an unchecked migration). */
async function checkCommand(
  operations: MigrationOperationsApi,
  dataSource: string | undefined,
  limits: PlanLimits,
  {
    strict,
    snapshot: snapshotFile,
    runningBuilds,
    shadow,
  }: { strict: boolean; snapshot: string | undefined; runningBuilds: boolean; shadow: ShadowOption | undefined },
): Promise<CommandOutcome> {
  const snapshot = snapshotFile === undefined ? undefined : parseSnapshot(readFileSync(snapshotFile, 'utf8'), snapshotFile);
  const results = await operations.check({
    ...(dataSource === undefined ? {} : { dataSource }),
    ...limits,
    ...(snapshot ? { snapshot } : {}),
    ...(runningBuilds ? { runningBuilds: true } : {}),
    ...(shadow ? { shadow } : {}),
  });
  const failing = results.some((result) => result.findings.some(isFailing) || (strict && result.unchecked.length > 0));
  return { dataSources: results, text: formatCheck(results, strict), code: failing ? EXIT.failed : EXIT.ok };
}

/** snapshot: written to `out`; the entries say how much of each DataSource it holds. */
async function snapshotCommand(
  operations: MigrationOperationsApi,
  dataSource: string | undefined,
  out: string,
  build: string | undefined,
): Promise<CommandOutcome> {
  const taken = await operations.snapshot({ ...(dataSource === undefined ? {} : { dataSource }), build: build ?? packageBuild() });
  writeFileSync(out, `${JSON.stringify(taken, null, 2)}\n`);
  const entries = taken.dataSources.map((entry) => ({
    dataSource: entry.dataSource,
    tables: entry.tables.length,
    columns: entry.tables.reduce((sum, table) => sum + table.columns.length, 0),
    ...(entry.newestMigration ? { newestMigration: entry.newestMigration } : {}),
  }));
  return { dataSources: entries, text: formatSnapshot(taken, out), code: EXIT.ok };
}

/** The build a snapshot names by default: `name@version` of the package.json in the working directory. */
function packageBuild(): string {
  try {
    const { name, version } = JSON.parse(readFileSync('package.json', 'utf8')) as { name?: unknown; version?: unknown };
    if (typeof version === 'string') return typeof name === 'string' ? `${name}@${version}` : version;
  } catch {
    // No package.json here: the snapshot is unnamed (give --build).
  }
  return 'unnamed';
}

/** A usage error: told on stderr with the usage; with --json, also as the JSON document (nothing was run). */
function usage(io: CliIo, problem: string, json: boolean, command?: string): number {
  io.stderr(`auto-migrator: ${problem}\n\n${USAGE}\n`);
  if (json) {
    const document: CliJsonResult = {
      command: command ?? '',
      ok: false,
      exitCode: EXIT.usage,
      durationMs: 0,
      dataSources: [],
      error: { name: 'UsageError', message: problem },
    };
    io.stdout(`${JSON.stringify(document, null, 2)}\n`);
  }
  return EXIT.usage;
}
