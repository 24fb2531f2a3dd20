import { parseArgs } from 'node:util';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { MigrationDirtyError } from '../errors/migration-dirty.error.js';
import { PendingMigrationsError } from '../errors/pending-migrations.error.js';
import type { ResolvedAs } from '../operations/resolve-migration.js';
import { SecretRedactor } from '../util/secret-redactor.js';
import { CliLogger } from './cli-logger.js';
import { formatDown, formatPlan, formatResolve, formatStatus, formatUp } from './cli-output.js';
import { appTarget, dataSourceTarget, type CliTarget } from './cli-target.js';

/** Exit codes: success, pending or failed, usage or configuration error. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const COMMANDS = ['status', 'up', 'down', 'ensure-up', 'plan', 'resolve'] as const;
type Command = (typeof COMMANDS)[number];

export const USAGE = `Usage: auto-migrator <command> (--data-source <file> | --app <file>[#Export]) [options]

Commands:
  status       applied, pending and unknown migrations
  up           run pending migrations (under the migration lock, through the strategy)
  down --to <v>  revert every applied migration newer than <v> (name, 13-digit timestamp, or 0 for all)
  ensure-up    exit 1 when any migration is pending
  plan         dry run: the SQL pending migrations execute, rolled back (PostgreSQL, SQLite)
  resolve <migration> (--applied | --not-applied)
               after repairing the schema by hand: mark a migration that was started and never
               finished (status: "dirty") as applied, or as not applied (it runs again on up)

Target (one of):
  --data-source <file>   a JavaScript module exporting a TypeORM DataSource
  --app <file>[#Export]  a JavaScript module exporting the Nest root module (default export name: AppModule)

Options:
  --name <dataSource>    only this DataSource (with --app; the names AutoMigratorModule migrates)
  --to <version>         target of down
  --applied              with resolve: record the migration as applied
  --not-applied          with resolve: record it as not applied
  --tenants              with --app: status, up and down also cover (down: only) the tenant schemas
  --json                 print the result as JSON on stdout
  -h, --help             this text

Exit codes: 0 success, 1 pending (ensure-up), a failed or dirty migration, or a running migration's lock (resolve), 2 usage or configuration error.`;

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
        tenants: { type: 'boolean', default: false },
        applied: { type: 'boolean', default: false },
        'not-applied': { type: 'boolean', default: false },
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
  const [command, ...rest] = positionals;
  if (!command) return usage(io, 'no command given');
  if (!(COMMANDS as readonly string[]).includes(command)) return usage(io, `unknown command "${command}"; commands: ${COMMANDS.join(', ')}`);
  const [migration, ...extra] = command === 'resolve' ? rest : [undefined, ...rest];
  if (command === 'resolve' && migration === undefined) return usage(io, 'resolve needs the migration: resolve <migration> --applied | --not-applied');
  if (extra.length > 0) return usage(io, `unexpected argument(s): ${extra.join(' ')}`);
  if (command === 'resolve' && values.applied === values['not-applied']) return usage(io, 'resolve needs exactly one of --applied or --not-applied');
  if (command !== 'resolve' && (values.applied || values['not-applied'])) return usage(io, `--applied and --not-applied go with resolve, not ${command}`);
  if (command === 'resolve' && values.tenants) return usage(io, '--tenants does not go with resolve');
  if (!values['data-source'] === !values.app) return usage(io, 'give exactly one of --data-source <file> or --app <file>[#Export]');
  if (command === 'down' && values.to === undefined) return usage(io, 'down needs --to <version> (a migration name, its 13-digit timestamp, or 0 for all)');
  if (command !== 'down' && values.to !== undefined) return usage(io, `--to goes with down, not ${command}`);
  if (values['data-source'] && values.name !== undefined) return usage(io, '--name goes with --app; a --data-source file has one DataSource');
  if (values['data-source'] && values.tenants) return usage(io, '--tenants goes with --app: tenants are configured in AutoMigratorModule');
  if (values.tenants && command === 'plan') return usage(io, '--tenants does not go with plan');

  const logger = new CliLogger(io.stderr);
  let target: CliTarget | undefined;
  let redactor = new SecretRedactor();
  try {
    target = values.app ? await appTarget(values.app, logger) : await dataSourceTarget(values['data-source']!, logger);
    redactor = target.redactor;
    const scope = { ...(values.name === undefined ? {} : { dataSource: values.name }), ...(values.tenants ? { tenants: true } : {}) };
    const resolveAs = values.applied ? 'applied' : 'not-applied';
    const { result, text, code } = await execute(command as Command, target, scope, values.to, { migration: migration!, as: resolveAs });
    io.stdout(`${values.json ? JSON.stringify(result, null, 2) : text}\n`);
    return code;
  } catch (error) {
    redactor.scrub(error);
    const code = error instanceof AutoMigratorConfigError ? EXIT.usage : EXIT.failed;
    const name = error instanceof Error ? error.name : 'Error';
    const message = redactor.message(error);
    if (values.json) {
      const extra =
        error instanceof PendingMigrationsError
          ? { pending: error.pending }
          : error instanceof MigrationDirtyError
            ? { dirty: error.started.map((m) => ({ ...m, dataSource: error.dataSource })) }
            : {};
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
  resolve: { migration: string; as: ResolvedAs },
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
    case 'resolve': {
      const result = await target.resolve({ ...scope, ...resolve });
      return { result, text: formatResolve(result), code: EXIT.ok };
    }
    case 'plan': {
      const results = await target.plan(scope);
      const complete = results.every((result) => result.complete);
      return { result: results, text: formatPlan(results), code: complete ? EXIT.ok : EXIT.failed };
    }
  }
}

function usage(io: CliIo, problem: string): number {
  io.stderr(`auto-migrator: ${problem}\n\n${USAGE}\n`);
  return EXIT.usage;
}
