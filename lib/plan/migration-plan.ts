import type { DataSource } from 'typeorm';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { migrationLockKind, type MigrationLockKind } from '../lock/migration-lock.js';
import type {
  MigrationHistoryPolicy,
  MigrationTimeoutOptions,
  MigrationTransactionMode,
  ResolvedAutoMigratorOptions,
  ResolvedLockOptions,
  ResolvedTenantOptions,
} from '../options/auto-migrator-options.interface.js';
import { tenantDataSource } from '../tenants/tenant-data-source.js';
import { buildMigrations } from './build-migrations.js';

/** What will be done for one DataSource: the output of planning, the input of the runner. */
export interface DataSourcePlan {
  /** The state key: the DataSource name, or `<DataSource>/<tenant>`. */
  readonly name: string;
  /** How log lines and errors name it: `DataSource "x"` or `DataSource "x", tenant "t"`. */
  readonly label: string;
  readonly dataSource: DataSource;
  readonly transaction: MigrationTransactionMode;
  /** The cross-process lock to take before migrating; undefined: none (disabled, or in-memory SQLite). */
  readonly lock: { readonly kind: MigrationLockKind; readonly settings: ResolvedLockOptions } | undefined;
  /** What a pending migration older than the newest applied one, or an unknown applied one, does. */
  readonly history: { readonly outOfOrder: MigrationHistoryPolicy; readonly unknownMigrations: MigrationHistoryPolicy };
  /** Statement and lock-wait limits for the migration session. */
  readonly timeouts: Readonly<MigrationTimeoutOptions>;
  /** Schema-per-tenant migrations to run after this DataSource's own. */
  readonly tenants: ResolvedTenantOptions | undefined;
  /** For a tenant's plan: the tenant, its parent DataSource, and whether to create its schema. */
  readonly tenant: { readonly name: string; readonly parent: string; readonly createSchema: boolean } | undefined;
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
export function planDataSources(
  options: ResolvedAutoMigratorOptions,
  registry: DataSourceRegistry,
): DataSourcePlan[] {
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
    buildMigrations(dataSource.migrations, `DataSource "${entry.name}"`);
    if (entry.tenants) {
      if (dataSource.options.type !== 'postgres') {
        throw new AutoMigratorConfigError(
          `DataSource "${entry.name}" (type "${dataSource.options.type}"): the "tenants" option needs PostgreSQL (one schema per tenant); ` +
            `remove it from this DataSource, or give each tenant a DataSource of its own.`,
        );
      }
      buildMigrations(entry.tenants.migrations, `DataSource "${entry.name}", tenant migrations`);
    }
    return Object.freeze({
      name: entry.name,
      label: `DataSource "${entry.name}"`,
      dataSource,
      transaction: entry.transaction ?? dataSource.options.migrationsTransactionMode ?? 'each',
      lock: planLock(entry.name, dataSource, options.lock),
      history: Object.freeze({ outOfOrder: options.outOfOrder, unknownMigrations: options.unknownMigrations }),
      timeouts: options.migrationTimeouts,
      tenants: entry.tenants,
      tenant: undefined,
    });
  });
}

/** The plan for one tenant of a DataSource with `tenants` (its name validated beforehand). */
export function planTenant(parent: DataSourcePlan, tenant: string): DataSourcePlan {
  const tenants = parent.tenants;
  if (!tenants) throw new Error(`DataSource "${parent.name}" has no tenants`);
  return Object.freeze({
    ...parent,
    name: `${parent.name}/${tenant}`,
    label: `DataSource "${parent.name}", tenant "${tenant}"`,
    dataSource: tenantDataSource(parent.dataSource, tenant, tenants.migrations, tenants.migrationsTableName),
    tenants: undefined,
    tenant: Object.freeze({ name: tenant, parent: parent.name, createSchema: tenants.createSchema }),
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
  return Object.freeze({ kind, settings });
}
