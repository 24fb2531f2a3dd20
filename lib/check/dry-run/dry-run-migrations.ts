import type { DataSource, QueryRunner } from 'typeorm';
import { quoteIdentifier } from '../../util/sql-identifier.js';
import type { CheckFinding } from '../check-finding.js';
import { openMysqlShadow } from '../shadow/mysql-shadow.js';
import { withShadow, type ShadowOption } from '../shadow/shadow-database.js';
import { mysqlServerWideCheck } from '../sql/server-wide-statements.js';
import { isMysqlFamily } from '../../history/migrations-table.js';
import type { SecretRedactor } from '../../util/secret-redactor.js';
import { AutoMigratorConfigError } from '../../errors/auto-migrator-config.error.js';
import type { DataSourceMigrationRunner } from '../../runner/data-source-migration.runner.js';
import { missingSqliteFile, readMigrationStatus } from '../../history/migration-status.js';
import { declaredTransaction, knownMigrations } from '../../typeorm/migration-internals.js';
import { PreviewTransaction, type PlannedStatement, type PreviewLimits } from './preview-transaction.js';

export type { PlannedStatement, PreviewLimits } from './preview-transaction.js';

/** What one pending migration would execute. */
export interface PlannedMigration {
  readonly name: string;
  readonly statements: readonly PlannedStatement[];
  /** Why it could not be previewed (its error, or what it does that a dry run cannot take back); later ones were not run. */
  readonly error?: string;
}

/** The dry run of one DataSource. */
export interface DryRunResult {
  readonly dataSource: string;
  /** How many migrations were pending. */
  readonly pending: number;
  /** The migrations previewed, up to and including the one it stopped at. */
  readonly migrations: readonly PlannedMigration[];
  /** True when every pending migration ran to its end inside the rolled-back transaction. */
  readonly complete: boolean;
  /** PostgreSQL: what `check`'s lock rules find in these statements, when they find anything (see DeployCheckResult). */
  readonly findings?: readonly CheckFinding[];
}

/** Limits of a dry run when none are given: {@link PreviewLimits}. */
export const DRY_RUN_LIMITS: PreviewLimits = { timeoutMs: 300_000, lockTimeoutMs: 10_000 };

/**
 * Runs the pending migrations inside one transaction that is always rolled back, recording the SQL
 * each executes, whichever way it reaches the database (see {@link PreviewTransaction}). Only where
 * DDL is transactional (PostgreSQL, SQLite): on MySQL/MariaDB DDL commits implicitly, so it refuses.
 * Nothing is written, the migrations table included. A preview that stops early says where and
 * why, on the logger and in the result (`complete: false`).
 *
 * This runs them on the database itself, under the migration lock, holding their locks there:
 * on PostgreSQL, `plan` and `check` use {@link dryRunInShadow} instead.
 */
export async function dryRunMigrations(runner: DataSourceMigrationRunner, limits: Partial<PreviewLimits> = {}): Promise<DryRunResult> {
  const { dataSource, label } = runner.plan;
  const type = dataSource.options.type;
  if (type !== 'postgres' && type !== 'better-sqlite3') {
    throw new AutoMigratorConfigError(
      `${label} (${type}): plan needs transactional DDL to roll the run back; ` +
        `${type === 'mysql' || type === 'mariadb' ? 'MySQL/MariaDB commit DDL statements implicitly, so a dry run would change the schema' : 'this database type is not supported'}. ` +
        `Use "status" to list what is pending.`,
    );
  }
  const missingFile = missingSqliteFile(dataSource);
  if (missingFile !== undefined) {
    throw new AutoMigratorConfigError(
      `${label}: the SQLite database file ${missingFile} does not exist, and plan creates nothing. ` +
        `Use "status" to list what is pending (everything); "up" creates the file.`,
    );
  }
  const settings = { ...DRY_RUN_LIMITS, ...checkLimits(limits) };
  return runner.withSession(async (queryRunner, beforeMigration) => {
    const { pending } = await readMigrationStatus(dataSource, queryRunner);
    const names = pending.map(({ name }) => name);
    return previewPending(runner, names, settings, { dataSource, queryRunner, prepare: () => beforeMigration(names[0]!) });
  });
}

/**
 * The dry run in a shadow of the live database (PostgreSQL; see ShadowDatabase): what is pending is
 * read from the live database, the migrations run in the shadow, which is opened only when
 * something is pending and closed (a temporary one dropped) at the end. The live tables are never
 * locked, and no migration lock is taken.
 */
export async function dryRunInShadow(
  runner: DataSourceMigrationRunner,
  limits: Partial<PreviewLimits>,
  option: ShadowOption,
  /** What is pending, when the caller has just read it. */
  known?: readonly string[],
): Promise<DryRunResult> {
  const settings = { ...DRY_RUN_LIMITS, ...checkLimits(limits) };
  const pending = known ?? (await runner.readPending()).map(({ name }) => name);
  if (pending.length === 0) return { dataSource: runner.name, pending: 0, migrations: [], complete: true };
  const { dataSource, label } = runner.plan;
  const context = { label, logger: runner.logger, redactor: runner.redactor };
  if (isMysqlFamily(dataSource)) {
    // MySQL/MariaDB commit DDL as it runs: the shadow is always a database thrown away after.
    const shadow = await openMysqlShadow(dataSource, option, context, { kind: 'dry-run' });
    try {
      return await previewPending(runner, pending, settings, {
        dataSource: shadow.dataSource,
        queryRunner: shadow.queryRunner,
        prepare: () => Promise.resolve(),
        disposable: true,
        serverWide: await mysqlServerWideCheck(shadow.queryRunner),
      });
    } finally {
      await shadow.close();
    }
  }
  const tenant = runner.plan.tenant?.name;
  return withShadow(dataSource, option, context, (shadow) =>
    previewPending(runner, pending, settings, {
      dataSource: shadow.dataSource,
      queryRunner: shadow.queryRunner,
      prepare: async () => {
        await shadow.prepareSession();
        // A tenant's migrations run with search_path set to its schema, as the real run sets it (made in the shadow when the tenant has none yet).
        if (tenant !== undefined) {
          await shadow.queryRunner.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(tenant)}`);
          await shadow.queryRunner.query(`SELECT set_config('search_path', $1, false)`, [quoteIdentifier(tenant)]);
        }
      },
      disposable: shadow.disposable,
    }),
  );
}

/** The pending migrations, run in order in one preview on `session`, recorded until one cannot be. */
async function previewPending(
  runner: DataSourceMigrationRunner,
  pending: readonly string[],
  limits: PreviewLimits,
  session: {
    readonly dataSource: DataSource;
    readonly queryRunner: QueryRunner;
    readonly prepare: () => Promise<void>;
    /** A shadow thrown away after the run (see ShadowDatabase.disposable): a migration with `transaction = false` runs there, committed. */
    readonly disposable?: boolean;
    /** MySQL/MariaDB: what tells a statement acting outside the shadow's database (see PreviewSetting.serverWide). */
    readonly serverWide?: (sql: string) => Promise<string | undefined>;
  },
): Promise<DryRunResult> {
  const { dataSource, label, transaction } = runner.plan;
  const planned: PlannedMigration[] = [];
  if (pending.length === 0) return { dataSource: runner.name, pending: 0, migrations: planned, complete: true };
  const instances = new Map(knownMigrations(dataSource).map((migration) => [migration.name, migration.instance]));
  const { queryRunner } = session;
  // In a shadow: the application's DataSource is routed there too, and what each statement locks is read.
  const inShadow = session.dataSource !== dataSource;
  // MySQL/MariaDB: every migration commits as it runs there (DDL commits implicitly); no locks are read.
  const mysql = isMysqlFamily(dataSource);
  const preview = await PreviewTransaction.begin(
    session.dataSource,
    queryRunner,
    limits,
    session.prepare,
    inShadow
      ? {
          alsoRouted: [dataSource],
          observeLocks: !mysql,
          probeAlgorithms: mysql,
          disposable: session.disposable === true,
          ...(session.serverWide ? { serverWide: session.serverWide } : {}),
        }
      : {},
  );
  try {
    for (const name of pending) {
      const instance = instances.get(name);
      const statements = preview.recordInto();
      const optsOut = declaredTransaction(instance) === false;
      if (!instance || (optsOut && !preview.disposable)) {
        planned.push({ name, statements, error: cannotCommit(inShadow) });
        break;
      }
      try {
        // Where it may commit (a disposable shadow), each migration runs in the transactions the real run gives it.
        if (optsOut || (preview.disposable && (transaction === 'none' || mysql)))
          await preview.runCommitted(() => instance.up(queryRunner));
        else await preview.run(() => instance.up(queryRunner));
        if (transaction === 'each') await preview.commitBetweenMigrations();
        planned.push({ name, statements });
      } catch (error) {
        planned.push({ name, statements, error: runner.redactor.message(error) });
        break;
      }
    }
  } finally {
    await preview.end();
  }
  const stopped = planned.at(-1)?.error === undefined ? undefined : planned.at(-1);
  if (stopped) {
    runner.logger.error(
      `${label}: plan incomplete: stopped at migration ${planned.length} of ${pending.length}, "${stopped.name}": ${stopped.error}. ` +
        `Nothing was kept; the migrations after it were not previewed.`,
    );
  } else {
    runner.logger.log(`${label}: dry run of ${planned.length} migration(s) rolled back; nothing was kept`);
  }
  return { dataSource: runner.name, pending: pending.length, migrations: planned, complete: !stopped };
}

/** Why a migration with `transaction = false` is not previewed where its statements cannot be committed. */
function cannotCommit(inShadow: boolean): string {
  return inShadow
    ? 'it opts out of transactions (transaction = false), so its statements would be committed, and the shadow database given is ' +
        'a copy used as it is, which must stay one; give an empty database as the shadow URL, or none (a temporary database), to check it'
    : 'it opts out of transactions (transaction = false), so it cannot be previewed and rolled back';
}

/**
 * The dry run as it may be shown: every statement's SQL and bound parameters passed through the
 * redactor (a migration may bind a password), as TypeORM's logger gets them. The rules read the
 * statements as recorded; what leaves the library (plan's result, text and JSON) is this.
 */
export function redactedDryRun(result: DryRunResult, redactor: SecretRedactor): DryRunResult {
  return {
    ...result,
    migrations: result.migrations.map((migration) => ({
      ...migration,
      statements: migration.statements.map(({ sql, parameters, ...rest }) => ({
        ...rest,
        sql: redactor.redact(sql),
        ...(parameters ? { parameters: redactor.data(parameters) } : {}),
      })),
    })),
  };
}

/** Positive whole numbers of ms, or a configuration error naming the one to fix. */
function checkLimits(limits: Partial<PreviewLimits>): Partial<PreviewLimits> {
  for (const [key, value] of Object.entries(limits)) {
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value <= 0 || value > 2_147_483_647) {
      throw new AutoMigratorConfigError(`plan: ${key} must be a whole number of ms between 1 and 2147483647; got ${String(value)}.`);
    }
  }
  return Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined));
}
