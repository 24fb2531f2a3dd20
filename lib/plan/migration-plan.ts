import { invariant } from '../errors/invariant.error.js';
import type { DataSource, MigrationInterface } from 'typeorm';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { migrationLockKind, type MigrationLockKind } from '../contracts/lock-contract.js';
import type {
  MigrationHistoryPolicy,
  MigrationTimeoutOptions,
  ResolvedAutoMigratorOptions,
  ResolvedConnectionCheckOptions,
  ResolvedLockOptions,
  ResolvedTenantOptions,
} from '../options/auto-migrator-options.interface.js';
import type { MigrationTransactionMode } from '../contracts/migration-records.js';
import { tenantDataSource } from '../typeorm/tenant-data-source.js';
import { buildMigrations } from './build-migrations.js';
import { dataSourceLabel } from '../util/data-source-label.js';
import { tenantKey, type TenantRef } from '../contracts/tenant-ref.js';

/** What will be done for one DataSource: the output of planning, the input of the runner. */
export interface DataSourcePlan {
  /** The state key: the DataSource name, or `<DataSource>/<tenant>` (see tenantKey). */
  readonly name: string;
  /** The configured DataSource this plan migrates: its own name, or a tenant's parent. */
  readonly dataSourceName: string;
  /** How log lines and errors name it: `DataSource "x"` or `DataSource "x", tenant "t"`. */
  readonly label: string;
  readonly dataSource: DataSource;
  readonly transaction: MigrationTransactionMode;
  /** The cross-process lock to take before migrating; undefined: none (disabled, or in-memory SQLite). */
  readonly lock: { readonly kind: MigrationLockKind; readonly settings: ResolvedLockOptions } | undefined;
  /** What a pending migration older than the newest applied one, or an unknown applied one, does. */
  readonly history: {
    readonly outOfOrder: MigrationHistoryPolicy;
    readonly unknownMigrations: MigrationHistoryPolicy;
    readonly changedMigrations: MigrationHistoryPolicy;
  };
  /** Statement and lock-wait limits for the migration session. */
  readonly timeouts: Readonly<MigrationTimeoutOptions>;
  /** How the migration session's connection is watched; undefined: not watched. */
  readonly connectionCheck: ResolvedConnectionCheckOptions | undefined;
  /** Schema-per-tenant migrations to run after this DataSource's own. */
  readonly tenants: ResolvedTenantOptions | undefined;
  /** The user said this DataSource has no migrations of its own (`allowNoMigrations`); else none is a configuration error. */
  readonly allowNoMigrations: boolean;
  /** For a tenant's plan: the tenant, its parent DataSource, and whether to create its schema. */
  readonly tenant: TenantOfPlan | undefined;
}

/** The tenant a plan migrates. */
export interface TenantOfPlan extends TenantRef {
  readonly createSchema: boolean;
  /**
   * With the tenants' summary (PostgreSQL, a session holding the lock directly): `writing`, a
   * statement sent with the one that points the session at the tenant, and `written`, an
   * expression evaluated in the statement that unlocks, before the unlock (see tenants/tenant-summary.ts).
   */
  readonly summary?: { readonly writing: string; readonly written: string };
}

/** Finds DataSources registered with TypeOrmModule. */
export interface DataSourceRegistry {
  /** The DataSource registered under this name, or undefined. */
  find(name: string): DataSource | undefined;
  /** Every registered DataSource name, for error messages. */
  names(): string[];
}

/**
 * Resolves every configured DataSource and checks its migrations, before anything runs. Throws
 * an {@link AutoMigratorConfigError} naming the DataSource or migration to fix.
 */
export function planDataSources(options: ResolvedAutoMigratorOptions, registry: DataSourceRegistry): DataSourcePlan[] {
  return options.dataSources.map((entry) => {
    const dataSource = registry.find(entry.name);
    if (!dataSource) {
      const names = registry.names();
      throw new AutoMigratorConfigError(
        `AutoMigratorModule option "dataSources" names DataSource "${entry.name}", which is not registered with TypeOrmModule. ` +
          (names.length > 0
            ? `Registered: ${names.map((name) => `"${name}"`).join(', ')}.`
            : 'No DataSource is registered: import TypeOrmModule.forRoot()/forRootAsync() in the application.'),
      );
    }
    if (entry.tenants) {
      if (dataSource.options.type !== 'postgres') {
        throw new AutoMigratorConfigError(
          `DataSource "${entry.name}" (type "${dataSource.options.type}"): the "tenants" option needs PostgreSQL (one schema per tenant); ` +
            `remove it from this DataSource, or give each tenant a DataSource of its own.`,
        );
      }
      buildMigrations(entry.tenants.migrations, `DataSource "${entry.name}", tenant migrations`);
    }
    checkTimeoutRanges(entry.name, dataSource, options.migrationTimeouts);
    // A DataSource with tenants and no `migrations` option at all has none of its own, plainly;
    // one whose option resolves to none (a glob from another working directory) is still refused.
    const allowNoMigrations = entry.allowNoMigrations === true || (entry.tenants !== undefined && namesNoMigrations(dataSource));
    // Not initialized yet (manualInitialization): TypeORM resolves its migrations in initialize(); the runner checks them then.
    if (dataSource.isInitialized) checkMigrations(dataSource, entry.name, dataSourceLabel(entry.name), allowNoMigrations);
    return Object.freeze({
      name: entry.name,
      dataSourceName: entry.name,
      label: dataSourceLabel(entry.name),
      dataSource,
      transaction: entry.transaction ?? dataSource.options.migrationsTransactionMode ?? 'each',
      lock: planLock(entry.name, dataSource, options.lock),
      history: Object.freeze({
        outOfOrder: options.outOfOrder,
        unknownMigrations: options.unknownMigrations,
        changedMigrations: options.changedMigrations,
      }),
      timeouts: options.migrationTimeouts,
      connectionCheck: options.connectionCheck || undefined,
      tenants: entry.tenants,
      allowNoMigrations,
      tenant: undefined,
    });
  });
}

/**
 * Checks the migrations an initialized DataSource resolved (each name, no duplicates; see
 * {@link buildMigrations}), and that there is at least one unless `allowNoMigrations`: a glob
 * relative to the working directory, started from another directory, resolves to none, and the
 * application would report ready on a schema that is not there. Cheap to repeat (cached per array).
 */
export function checkMigrations(
  dataSource: DataSource,
  name: string,
  label: string,
  allowNoMigrations: boolean,
  migrations: readonly MigrationInterface[] = dataSource.migrations,
): void {
  const built = buildMigrations(migrations, label);
  if (built.length > 0 || allowNoMigrations) return;
  const configured = dataSource.options.migrations;
  const entries = configured === undefined ? [] : Array.isArray(configured) ? configured : Object.values(configured);
  const listed = entries.length === 0 ? 'none (no "migrations" option)' : entries.map(describeEntry).join(', ');
  throw new AutoMigratorConfigError(
    `${label}: no migrations found. Its "migrations" option: ${listed}; working directory: ${process.cwd()}. ` +
      `Relative paths and globs are resolved against the working directory, not the file that names them: ` +
      `build them from the module's own location (CommonJS: join(__dirname, 'migrations/*.js'); ESM: ` +
      `fileURLToPath(new URL('./migrations/*.js', import.meta.url))), or list the migration classes. ` +
      `If this DataSource really has no migrations, say so: dataSources: [{ name: '${name}', allowNoMigrations: true }].`,
  );
}

function describeEntry(entry: unknown): string {
  if (typeof entry === 'string') return JSON.stringify(entry);
  if (typeof entry === 'function') return `class ${entry.name || '(anonymous)'}`;
  if (typeof entry === 'object' && entry !== null) return `an instance of ${entry.constructor?.name ?? 'Object'}`;
  return String(entry);
}

/** The most each database takes, in ms, per migrationTimeouts option (what MigrationSession sets). */
const TIMEOUT_LIMITS: Record<string, { database: string; statementTimeoutMs: [number, string]; lockTimeoutMs: [number, string] }> = {
  postgres: {
    database: 'PostgreSQL',
    statementTimeoutMs: [2_147_483_647, 'statement_timeout takes at most 2147483647 ms (about 24.8 days)'],
    lockTimeoutMs: [2_147_483_647, 'lock_timeout takes at most 2147483647 ms (about 24.8 days)'],
  },
  mariadb: {
    database: 'MariaDB',
    statementTimeoutMs: [31_536_000_000, 'max_statement_time takes at most 31536000 s (one year)'],
    lockTimeoutMs: [31_536_000_000, 'lock_wait_timeout takes at most 31536000 s (one year)'],
  },
  mysql: {
    database: 'MySQL',
    statementTimeoutMs: [4_294_967_295, 'max_execution_time takes at most 4294967295 ms (about 49.7 days)'],
    lockTimeoutMs: [31_536_000_000, 'lock_wait_timeout takes at most 31536000 s (one year)'],
  },
};

/** Refuses a migrationTimeouts value the DataSource's database would reject (or silently clamp) after connecting and locking. */
function checkTimeoutRanges(name: string, dataSource: DataSource, timeouts: Readonly<MigrationTimeoutOptions>): void {
  const limits = TIMEOUT_LIMITS[dataSource.options.type];
  if (!limits) return;
  for (const key of ['statementTimeoutMs', 'lockTimeoutMs'] as const) {
    const value = timeouts[key];
    const [maximum, why] = limits[key];
    if (value !== undefined && value > maximum) {
      throw new AutoMigratorConfigError(
        `DataSource "${name}" (type "${dataSource.options.type}"): AutoMigratorModule option "migrationTimeouts.${key}" is ${value} ms, ` +
          `more than ${limits.database} accepts: ${why}. Give at most ${maximum}, or leave it out to keep the server's setting.`,
      );
    }
  }
}

/** The DataSource's options give no migrations at all (no `migrations` option, or an empty list). */
function namesNoMigrations(dataSource: DataSource): boolean {
  const given = dataSource.options.migrations;
  return given === undefined || (Array.isArray(given) && given.length === 0);
}

/** The plan for one tenant of a DataSource with `tenants` (its name validated beforehand). */
export function planTenant(parent: DataSourcePlan, tenant: string, summary?: TenantOfPlan['summary']): DataSourcePlan {
  const tenants = parent.tenants;
  invariant(tenants, `DataSource "${parent.name}" has no tenants`);
  return Object.freeze({
    ...parent,
    name: tenantKey({ parent: parent.name, name: tenant }),
    label: dataSourceLabel(parent.name, tenant),
    dataSource: tenantDataSource(parent.dataSource, tenant, tenants.migrations, tenants.migrationsTableName),
    tenants: undefined,
    tenant: Object.freeze({ name: tenant, parent: parent.name, createSchema: tenants.createSchema, ...(summary ? { summary } : {}) }),
  });
}

function planLock(name: string, dataSource: DataSource, settings: ResolvedLockOptions | false): DataSourcePlan['lock'] {
  if (settings === false) return undefined;
  const kind = migrationLockKind(dataSource);
  if (kind === 'in-memory') return undefined;
  if (kind === undefined) {
    throw new AutoMigratorConfigError(
      `DataSource "${name}" (type "${dataSource.options.type}"): AutoMigratorModule has no cross-process migration lock for this database type ` +
        `(it has one for postgres, mysql, mariadb and better-sqlite3). Set the option lock: false to migrate without one, and let only one process migrate.`,
    );
  }
  if (settings.mode === 'transaction' && kind !== 'postgres') {
    throw new AutoMigratorConfigError(
      `DataSource "${name}" (type "${dataSource.options.type}"): lock.mode 'transaction' exists for PostgreSQL only; use 'auto' or 'session'.`,
    );
  }
  return Object.freeze({ kind, settings });
}
