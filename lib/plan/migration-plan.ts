import type { DataSource, MigrationInterface } from 'typeorm';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { migrationLockKind, type MigrationLockKind } from '../lock/migration-lock.js';
import type {
  MigrationHistoryPolicy,
  MigrationTimeoutOptions,
  MigrationTransactionMode,
  ResolvedAutoMigratorOptions,
  ResolvedLockOptions,
} from '../options/auto-migrator-options.interface.js';

/** What will be done for one DataSource: the output of planning, the input of the runner. */
export interface DataSourcePlan {
  readonly name: string;
  readonly dataSource: DataSource;
  readonly transaction: MigrationTransactionMode;
  /** The cross-process lock to take before migrating; undefined: none (disabled, or in-memory SQLite). */
  readonly lock: { readonly kind: MigrationLockKind; readonly settings: ResolvedLockOptions } | undefined;
  /** What a pending migration older than the newest applied one, or an unknown applied one, does. */
  readonly history: { readonly outOfOrder: MigrationHistoryPolicy; readonly unknownMigrations: MigrationHistoryPolicy };
  /** Statement and lock-wait limits for the migration session. */
  readonly timeouts: Readonly<MigrationTimeoutOptions>;
}

/** Finds DataSources registered with TypeOrmModule. */
export interface DataSourceRegistry {
  /** The DataSource registered under this name, or undefined. */
  find(name: string): DataSource | undefined;
  /** Every registered DataSource name, for error messages. */
  names(): string[];
}

const TIMESTAMP_SUFFIX = /\d{13}$/;

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
    checkMigrations(entry.name, dataSource.migrations);
    return Object.freeze({
      name: entry.name,
      dataSource,
      transaction: entry.transaction ?? dataSource.options.migrationsTransactionMode ?? 'each',
      lock: planLock(entry.name, dataSource, options.lock),
      history: Object.freeze({ outOfOrder: options.outOfOrder, unknownMigrations: options.unknownMigrations }),
      timeouts: options.migrationTimeouts,
    });
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

/** The name TypeORM records for a migration: its `name` property, else its class name. */
export function migrationName(migration: MigrationInterface): string {
  return migration.name ?? migration.constructor.name;
}

function checkMigrations(dataSourceName: string, migrations: readonly MigrationInterface[]): void {
  const seen = new Set<string>();
  for (const migration of migrations) {
    const name = migrationName(migration);
    if (!TIMESTAMP_SUFFIX.test(name)) {
      throw new AutoMigratorConfigError(
        `DataSource "${dataSourceName}": migration "${name}" must end in a 13-digit millisecond timestamp ` +
          `(for example "${name.replace(/\d+$/, '')}${Date.UTC(2026, 0, 1)}"); TypeORM orders and records migrations by it.`,
      );
    }
    if (seen.has(name)) {
      throw new AutoMigratorConfigError(
        `DataSource "${dataSourceName}": two migrations are named "${name}". Names must be unique: TypeORM records a migration as applied by name.`,
      );
    }
    seen.add(name);
  }
}
