import { parseArgs } from 'node:util';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { PendingMigrationsError } from '../errors/pending-migrations.error.js';
import { SecretRedactor } from '../util/secret-redactor.js';
import { CliLogger } from './cli-logger.js';
import { formatDown, formatPlan, formatStatus, formatUp } from './cli-output.js';
import { appTarget, dataSourceTarget, type CliTarget } from './cli-target.js';

/** Exit codes: success, pending or failed, usage or configuration error. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const COMMANDS = ['status', 'up', 'down', 'ensure-up', 'plan'] as const;
type Command = (typeof COMMANDS)[number];

export const USAGE = `Usage: auto-migrator <command> (--data-source <file> | --app <file>[#Export]) [options]

Commands:
  status       applied, pending and unknown migrations
  up           run pending migrations (under the migration lock, through the strategy)
  down --to <v>  revert every applied migration newer than <v> (name, 13-digit timestamp, or 0 for all)
  ensure-up    exit 1 when any migration is pending
  plan         dry run: the SQL pending migrations execute, rolled back (PostgreSQL, SQLite)

Target (one of):
  --data-source <file>   a JavaScript module exporting a TypeORM DataSource
  --app <file>[#Export]  a JavaScript module exporting the Nest root module (default export name: AppModule)

Options:
  --name <dataSource>    only this DataSource (with --app; the names AutoMigratorModule migrates)
  --to <version>         target of down
  --tenants              with --app: status, up and down also cover (down: only) the tenant schemas
  --timeout <ms>         plan: stop the dry run after this long (default 300000)
  --lock-timeout <ms>    plan: stop when a statement waits this long for a lock (default 10000; PostgreSQL)
  --json                 print the result as JSON on stdout
  -h, --help             this text

Exit codes: 0 success, 1 pending (ensure-up) or a failed migration, 2 usage or configuration error.`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** Runs the CLI; resolves with the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'data-source': { type: 'string' },
        app: { type: 'string' },
        name: { type: 'string' },
        to: { type: 'string' },
        timeout: { type: 'string' },
        'lock-timeout': { type: 'string' },
        tenants: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    return usage(io, error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return EXIT.ok;
  }
  const [command, ...extra] = positionals;
  if (!command) return usage(io, 'no command given');
  if (!(COMMANDS as readonly string[]).includes(command)) return usage(io, `unknown command "${command}"; commands: ${COMMANDS.join(', ')}`);
  if (extra.length > 0) return usage(io, `unexpected argument(s): ${extra.join(' ')}`);
  if (!values['data-source'] === !values.app) return usage(io, 'give exactly one of --data-source <file> or --app <file>[#Export]');
  if (command === 'down' && values.to === undefined) return usage(io, 'down needs --to <version> (a migration name, its 13-digit timestamp, or 0 for all)');
  if (command !== 'down' && values.to !== undefined) return usage(io, `--to goes with down, not ${command}`);
  if (values['data-source'] && values.name !== undefined) return usage(io, '--name goes with --app; a --data-source file has one DataSource');
  if (values['data-source'] && values.tenants) return usage(io, '--tenants goes with --app: tenants are configured in AutoMigratorModule');
  if (values.tenants && command === 'plan') return usage(io, '--tenants does not go with plan');
  const limits: { timeoutMs?: number; lockTimeoutMs?: number } = {};
  for (const [flag, key] of [['timeout', 'timeoutMs'], ['lock-timeout', 'lockTimeoutMs']] as const) {
    const value = values[flag];
    if (value === undefined) continue;
    if (command !== 'plan') return usage(io, `--${flag} goes with plan, not ${command}`);
    if (!/^[1-9][0-9]{0,9}$/.test(value) || Number(value) > 2_147_483_647) return usage(io, `--${flag} takes a whole number of ms (1 to 2147483647); got "${value}"`);
    limits[key] = Number(value);
  }

  const logger = new CliLogger(io.stderr);
  let target: CliTarget | undefined;
  let redactor = new SecretRedactor();
  try {
    target = values.app ? await appTarget(values.app, logger) : await dataSourceTarget(values['data-source']!, logger);
    redactor = target.redactor;
    const scope = { ...(values.name === undefined ? {} : { dataSource: values.name }), ...(values.tenants ? { tenants: true } : {}) };
    const { result, text, code } = await execute(command as Command, target, scope, values.to, limits);
    io.stdout(`${values.json ? JSON.stringify(result, null, 2) : text}\n`);
    return code;
  } catch (error) {
    redactor.scrub(error);
    const code = error instanceof AutoMigratorConfigError ? EXIT.usage : EXIT.failed;
    const name = error instanceof Error ? error.name : 'Error';
    const message = redactor.message(error);
    if (values.json) {
      const extra = error instanceof PendingMigrationsError ? { pending: error.pending } : {};
      io.stdout(`${JSON.stringify({ error: { name, message, ...extra } }, null, 2)}\n`);
    }
    io.stderr(`${name}: ${message}\n`);
    return code;
  } finally {
    await target?.close().catch(() => undefined);
  }
}

async function execute(
  command: Command,
  target: CliTarget,
  scope: { dataSource?: string; tenants?: boolean },
  to: string | undefined,
  limits: { timeoutMs?: number; lockTimeoutMs?: number },
): Promise<{ result: unknown; text: string; code: number }> {
  switch (command) {
    case 'status': {
      const statuses = await target.status(scope);
      return { result: statuses, text: formatStatus(statuses), code: EXIT.ok };
    }
    case 'up': {
      const results = await target.up(scope);
      const failed = results.some((result) => result.status !== 'done');
      return { result: results, text: formatUp(results), code: failed ? EXIT.failed : EXIT.ok };
    }
    case 'down': {
      if (scope.tenants) {
        const results = await target.downTenants({ ...scope, to: to! });
        return { result: results, text: results.map(formatDown).join('\n'), code: EXIT.ok };
      }
      const result = await target.down({ ...scope, to: to! });
      return { result, text: formatDown(result), code: EXIT.ok };
    }
    case 'ensure-up': {
      await target.ensureUp(scope);
      return { result: { pending: {} }, text: 'No pending migrations.', code: EXIT.ok };
    }
    case 'plan': {
      const results = await target.plan({ ...(scope.dataSource === undefined ? {} : { dataSource: scope.dataSource }), ...limits });
      const complete = results.every((result) => result.complete);
      return { result: results, text: formatPlan(results), code: complete ? EXIT.ok : EXIT.failed };
    }
  }
}

function usage(io: CliIo, problem: string): number {
  io.stderr(`auto-migrator: ${problem}\n\n${USAGE}\n`);
  return EXIT.usage;
}
