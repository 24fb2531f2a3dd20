import type { LoggerService, Type } from '@nestjs/common';
import type { DataSource, MigrationInterface } from 'typeorm';
import type { MigrationLockMode } from '../contracts/lock-contract.js';
import type { TenantSource } from '../contracts/tenant-source.js';
import type { MigrationStrategy } from '../contracts/migration-strategy.js';
import type { MigrationTransactionMode } from '../contracts/migration-records.js';

/**
 * - `blocking`: bootstrap awaits the migrations; a failure the strategy rethrows rejects bootstrap.
 * - `background`: bootstrap returns at once; readiness stays down until the migrations finish.
 */
export type MigrationRunMode = 'blocking' | 'background';

/**
 * What bootstrap does while migrations are disabled:
 * - `skip`: reads once what is pending and warns naming it; never fails the boot (readiness stays down while anything is pending).
 * - `verify`: bootstrap fails when any migration is pending, listing them.
 * - `wait`: bootstrap succeeds; readiness stays down until another process (a release Job) has
 *   applied every pending migration, polled every `pendingCheckTtlMs`.
 */
export type WhenDisabled = 'skip' | 'verify' | 'wait';

/** Whether `check` runs before migrating (PostgreSQL): not at all, logging its findings, or refusing on an error. */
export type DeployCheckMode = 'off' | 'warn' | 'fail';

/** What a surprising migrations table does at bootstrap: log a warning, or fail the boot. */
export type MigrationHistoryPolicy = 'warn' | 'fail';

/** Lists the tenants of a DataSource, e.g. from a tenants table. */
export type TenantLister = (dataSource: DataSource) => Promise<readonly string[]> | readonly string[];

/**
 * Schema-per-tenant migrations (PostgreSQL): after the DataSource's own migrations, every tenant's
 * schema gets the tenant migrations, with `search_path` set to it.
 */
export interface TenantMigrationOptions {
  /** The tenant (schema) names: a function, or a class extending TenantSource (its dependencies injected). */
  list: TenantLister | Type<TenantSource>;
  /** The tenant migrations (classes or instances), separate from the DataSource's own. At least one. */
  migrations: ReadonlyArray<(new () => MigrationInterface) | MigrationInterface>;
  /** Create a tenant's schema when it is missing. Default true. */
  createSchema?: boolean;
  /** Tenants migrated at once (each on one connection of the DataSource's pool; keep the pool larger). Default 8, the fastest measured (bench/README.md). */
  concurrency?: number;
  /** The migrations table inside each tenant schema. Default: the DataSource's `migrationsTableName`, else 'migrations'. */
  migrationsTableName?: string;
  /** Whether failed or pending tenants keep readiness down. Default true. */
  affectReadiness?: boolean;
  /**
   * Keep a summary of every tenant's migrations table in `auto_migrator_tenants` (in the DataSource's
   * schema), kept exact by triggers on each tenant's migrations table, so that a restart learns
   * which tenants have nothing to do in one statement, without opening their tables. Default true;
   * false creates no table, function or trigger, and a restart reads every tenant's table. The
   * library's own migration session skips the triggers; writes by anyone else fire them. Measured
   * restart and deploy costs with and without it are in docs/tenants.md.
   */
  summaryTable?: boolean;
}

/** Per-DataSource settings. */
export interface DataSourceMigrationOptions {
  /** The DataSource name as registered with `TypeOrmModule` (`'default'` when unnamed). */
  name: string;
  /**
   * Transaction mode for this DataSource's migrations.
   * Default: the DataSource's own `migrationsTransactionMode` if set, else `'each'`.
   */
  transaction?: MigrationTransactionMode;
  /** Schema-per-tenant migrations for this DataSource (PostgreSQL only). */
  tenants?: TenantMigrationOptions;
  /**
   * This DataSource really has no migrations of its own. Default false: a DataSource whose
   * `migrations` resolve to none (typically a glob relative to the working directory, started from
   * another one) fails the boot with an AutoMigratorConfigError, and readiness stays down, instead
   * of reporting ready on a schema that is not there.
   */
  allowNoMigrations?: boolean;
}

/** Options of {@link AutoMigratorModule.forRoot} / {@link AutoMigratorModule.forRootAsync}. */
export interface AutoMigratorModuleOptions {
  /**
   * DataSources to migrate, in this order: names as registered with TypeOrmModule,
   * or objects with per-DataSource overrides. Default: `['default']`.
   */
  dataSources?: ReadonlyArray<string | DataSourceMigrationOptions>;
  /**
   * Whether to run migrations at bootstrap. A boolean, or a string parsed like the
   * environment variable. Default: read `runMigrationsKey` from ConfigService when it is
   * available, else from `process.env`.
   */
  runMigrations?: boolean | string;
  /** Key read from ConfigService / process.env when `runMigrations` is omitted. Default: `'RUN_MIGRATIONS'`. */
  runMigrationsKey?: string;
  /** `'blocking'` (default) or `'background'`. */
  mode?: MigrationRunMode;
  /**
   * What to do with each DataSource's pending migrations, and on failure: a class extending
   * MigrationStrategy (instantiated with its dependencies injected) or an instance.
   * Default: a provider of the `MigrationStrategy` token if one is visible, else FailFastStrategy.
   */
  strategy?: Type<MigrationStrategy> | MigrationStrategy;
  /**
   * While migrations are disabled, readiness asks the database whether migrations are pending
   * at most once per this many milliseconds. Default: 5000; at most 2147483647 (a Node.js timer).
   */
  pendingCheckTtlMs?: number;
  /**
   * The cross-process migration lock (one migrator across replicas), or `false` to migrate
   * without one (then only one process may migrate).
   */
  lock?: false | MigrationLockOptions;
  /** While migrations are disabled: `'skip'` (default), `'verify'` or `'wait'`. */
  whenDisabled?: WhenDisabled;
  /**
   * Runs `check` (PostgreSQL) before migrating a DataSource with pending migrations: `'off'`
   * (default: at boot the check's dry run runs the pending migrations once more on the live
   * database, holding their locks there, twice the time of a data migration; run `auto-migrator
   * check` in the release Job instead, whose dry run runs in a shadow database), `'warn'` (logs its
   * findings, then migrates) or `'fail'` (an error-level finding nobody accepted refuses to migrate
   * with a DeployCheckError, which readiness shows). `{ mode, snapshot }` also holds the migrations
   * against the previous release's snapshot file (see `auto-migrator snapshot`).
   */
  deployCheck?: DeployCheckMode | { mode: DeployCheckMode; snapshot?: string };
  /**
   * Each booting application records what its build's entities map (PostgreSQL: one upsert per
   * DataSource per boot into `auto_migrator_builds`); `check` and the option `deployCheck` then
   * hold the pending migrations against every build booted within `windowMs` (default 30 days).
   * `label` names this build in findings (e.g. a git SHA). Default: off (nothing recorded).
   */
  runningBuilds?: boolean | { label?: string; windowMs?: number };
  /** A pending migration older than the newest applied one: `'warn'` (default) or `'fail'` the boot. */
  outOfOrder?: MigrationHistoryPolicy;
  /**
   * An applied migration this build does not have (after a rollback of the code): `'warn'`
   * (default; old code on a newer, backward-compatible schema is normal) or `'fail'` the boot.
   */
  unknownMigrations?: MigrationHistoryPolicy;
  /**
   * An applied migration whose up() was edited after it ran (its checksum, recorded when it was
   * applied, differs from this build's): `'warn'` (default) or `'fail'` the boot. A deliberate edit
   * is accepted with `auto-migrator resolve <migration> --accept-change`.
   */
  changedMigrations?: MigrationHistoryPolicy;
  /**
   * Limits for the migration connection only (PostgreSQL `statement_timeout` / `lock_timeout`;
   * MySQL/MariaDB `max_statement_time` / `lock_wait_timeout` and `innodb_lock_wait_timeout`, in whole
   * seconds). Each at least 1 ms and at most what the database takes (checked at boot per DataSource):
   * PostgreSQL 2147483647 ms; MariaDB 31536000 s (one year); MySQL 4294967295 ms for statements.
   * Default: the server's own settings.
   */
  migrationTimeouts?: MigrationTimeoutOptions;
  /**
   * On shutdown (SIGTERM) during a migration: how long to wait for the migration in flight before
   * cancelling its statement (which rolls it back). Default 10000; at most 2147483647 (a Node.js timer).
   */
  shutdownGraceMs?: number;
  /**
   * Watches the migration connection (PostgreSQL, MySQL/MariaDB) while migrations run, so a silent
   * network partition fails the run in bounded time instead of hanging: every `intervalMs`, a check
   * on a separate connection; no answer within `timeoutMs` (or the database lost the session) closes
   * the migration connection and fails the run (RetryStrategy retries it). Detected within
   * `intervalMs + timeoutMs`. Also sets TCP keepalive on it. `false` turns both off.
   * Default `{ intervalMs: 5000, timeoutMs: 15000 }`.
   */
  connectionCheck?: false | ConnectionCheckOptions;
  /** How much readiness shows: `'full'` (default: migration names and errors) or `'counts'` (states and counts only). */
  readinessDetails?: ReadinessDetails;
  /**
   * While a run goes on, a progress line every this many ms (context `AutoMigratorProgress`): a
   * DataSource's tenants finished, failed and left, with the rate and the time left; a migration
   * running longer than this, and for how long. Default 10000; 0: none; at most 2147483647.
   */
  progressEveryMs?: number;
  /** Where the library logs: a Nest LoggerService, or `false` for nothing. Default: Nest's Logger. */
  logger?: LoggerService | false;
}

/** How much the readiness indicator shows of each DataSource. */
export type ReadinessDetails = 'full' | 'counts';

/** Statement and lock-wait limits for the migration connection. */
export interface MigrationTimeoutOptions {
  /** Longest a single migration statement may run, in ms. */
  statementTimeoutMs?: number;
  /** Longest a migration statement may wait for a lock another session holds (e.g. behind a long transaction), in ms. */
  lockTimeoutMs?: number;
}

/** How the migration connection is watched. */
export interface ConnectionCheckOptions {
  /** How often a check runs while migrating, in ms. Default 5000. */
  intervalMs?: number;
  /** How long a check may go unanswered before the migration connection is declared dead, in ms. Default 15000. */
  timeoutMs?: number;
}

/** The connection check settings after validation. */
export interface ResolvedConnectionCheckOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

/** Settings of the cross-process migration lock. */
export interface MigrationLockOptions {
  /** How long a process waits for the lock before handing a MigrationLockTimeoutError to the strategy. Default 600000 (10 min). */
  timeoutMs?: number;
  /** While waiting, log who holds the lock this often. Default 5000. */
  logEveryMs?: number;
  /**
   * PostgreSQL: how the advisory lock is held. `'session'`: by the migration connection's session.
   * `'transaction'`: by a transaction kept open on a second connection, which works through
   * transaction-pooling proxies (PgBouncer `pool_mode=transaction`, Supabase/Neon poolers, RDS
   * Proxy). `'auto'` (default): `'transaction'` when the server sees the connection come from another
   * address than this process's socket (a proxy), else `'session'`. The two exclude each other.
   * Other databases: only `'auto'` or `'session'`.
   */
  mode?: MigrationLockMode;
}

/** The lock settings after validation. */
export interface ResolvedLockOptions {
  readonly timeoutMs: number;
  readonly logEveryMs: number;
  readonly mode: MigrationLockMode;
}

/** One DataSource entry after validation. */
export interface ResolvedDataSourceOptions {
  readonly name: string;
  /** `undefined` means: the DataSource's own `migrationsTransactionMode`, else `'each'`. */
  readonly transaction: MigrationTransactionMode | undefined;
  readonly tenants: ResolvedTenantOptions | undefined;
  /** `true` when the entry says the DataSource has no migrations; `undefined` means false. */
  readonly allowNoMigrations: true | undefined;
}

/** The tenant settings after validation. */
export interface ResolvedTenantOptions {
  readonly list: TenantLister | Type<TenantSource>;
  readonly migrations: readonly MigrationInterface[];
  readonly createSchema: boolean;
  readonly concurrency: number;
  readonly migrationsTableName: string | undefined;
  readonly affectReadiness: boolean;
  readonly summaryTable: boolean;
}

/** The options after validation: every later stage reads only this frozen object. */
export interface ResolvedAutoMigratorOptions {
  readonly dataSources: readonly ResolvedDataSourceOptions[];
  readonly runMigrations: boolean;
  /** Where `runMigrations` came from, for the log line (e.g. `process.env.RUN_MIGRATIONS`). */
  readonly runMigrationsSource: string;
  readonly mode: MigrationRunMode;
  readonly strategy: Type<MigrationStrategy> | MigrationStrategy | undefined;
  readonly pendingCheckTtlMs: number;
  /** `false`: no lock. */
  readonly lock: ResolvedLockOptions | false;
  readonly whenDisabled: WhenDisabled;
  /** `snapshot`: the previous release's snapshot file, read when the check runs. */
  readonly deployCheck: { readonly mode: DeployCheckMode; readonly snapshot?: string };
  /** `false`: nothing recorded, and check does not look at recorded builds unless asked. */
  readonly runningBuilds: false | { readonly label?: string; readonly windowMs: number };
  readonly outOfOrder: MigrationHistoryPolicy;
  readonly unknownMigrations: MigrationHistoryPolicy;
  readonly changedMigrations: MigrationHistoryPolicy;
  readonly migrationTimeouts: Readonly<MigrationTimeoutOptions>;
  readonly shutdownGraceMs: number;
  /** `false`: the migration connection is not watched. */
  readonly connectionCheck: ResolvedConnectionCheckOptions | false;
  readonly readinessDetails: ReadinessDetails;
  readonly progressEveryMs: number;
  readonly logger: LoggerService | false | undefined;
}
