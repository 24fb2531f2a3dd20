import type { MigrationInterface } from 'typeorm';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import type { PendingMigration } from '../contracts/migration-records.js';

const TIMESTAMP_SUFFIX = /\d{13}$/;

/** Computed once per migrations array: a DataSource's, or the tenant migrations all its tenants share. */
const listed = new WeakMap<readonly MigrationInterface[], readonly PendingMigration[]>();

/** The name TypeORM records for a migration: its `name` property, else its class name. Unchecked: anything may be assigned to `name`. */
export function migrationName(migration: MigrationInterface): unknown {
  return migration.name ?? migration.constructor.name;
}

/**
 * The migrations of this build, oldest first, as TypeORM orders them (by the 13-digit timestamp
 * that ends each name; a stable sort, so ties keep their order). Checked once per array: every
 * name ends in a timestamp and no two are equal, else an {@link AutoMigratorConfigError} naming
 * `owner` and the migration to fix.
 */
export function buildMigrations(migrations: readonly MigrationInterface[], owner: string): readonly PendingMigration[] {
  const known = listed.get(migrations);
  if (known) return known;
  const seen = new Set<string>();
  const list: PendingMigration[] = [];
  let sorted = true;
  for (const migration of migrations) {
    const name = migrationName(migration);
    if (typeof name !== 'string') {
      const className = migration.constructor.name || '(anonymous)';
      throw new AutoMigratorConfigError(
        `${owner}: migration class ${className} has a "name" property that is not a string (${typeof name} ${String(name)}). ` +
          `TypeORM records a migration by its name: make it a string ending in a 13-digit millisecond timestamp (for example "${className}${Date.UTC(2026, 0, 1)}"), or remove it to use the class name.`,
      );
    }
    if (!TIMESTAMP_SUFFIX.test(name)) {
      throw new AutoMigratorConfigError(
        `${owner}: migration "${name}" must end in a 13-digit millisecond timestamp ` +
          `(for example "${name.replace(/\d+$/, '')}${Date.UTC(2026, 0, 1)}"); TypeORM orders and records migrations by it.`,
      );
    }
    if (seen.has(name)) {
      throw new AutoMigratorConfigError(
        `${owner}: two migrations are named "${name}". Names must be unique: TypeORM records a migration as applied by name.`,
      );
    }
    seen.add(name);
    const timestamp = Number(name.slice(-13));
    if (list.length > 0 && timestamp < list[list.length - 1]!.timestamp) sorted = false;
    list.push({ name, timestamp });
  }
  // Usually listed oldest first already; the sort is stable either way, as TypeORM's.
  if (!sorted) list.sort((a, b) => a.timestamp - b.timestamp);
  const frozen = Object.freeze(list);
  listed.set(migrations, frozen);
  return frozen;
}

/** The timestamp TypeORM reads from a recorded migration's name; 0 when it ends in none. */
export function timestampOf(name: string): number {
  return TIMESTAMP_SUFFIX.test(name) ? Number(name.slice(-13)) : 0;
}
