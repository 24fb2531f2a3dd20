import type { DataSource } from 'typeorm';

/** What the lock and the layers using it agree on. */

/**
 * How the PostgreSQL lock is held: by the migration session (`session`), or by a transaction kept
 * open on a second connection (`transaction`, which works through transaction-pooling proxies such
 * as PgBouncer). `auto` picks `transaction` when a proxy sits between the application and the server.
 */
export type MigrationLockMode = 'auto' | 'session' | 'transaction';

/** A condition in SQL with its parameters. */
export interface LockCondition {
  readonly sql: string;
  readonly parameters: readonly unknown[];
}

/** The database kinds a migration lock exists for. */
export type MigrationLockKind = 'postgres' | 'mysql' | 'sqlite-file';

/**
 * Which lock fits this DataSource: a kind, `'in-memory'` for an in-memory SQLite database
 * (no other process can see it, so there is nothing to lock), or undefined when none fits.
 */
export function migrationLockKind(dataSource: DataSource): MigrationLockKind | 'in-memory' | undefined {
  const options = dataSource.options;
  if (options.type === 'postgres') return 'postgres';
  if (options.type === 'mysql' || options.type === 'mariadb') return 'mysql';
  if (options.type === 'better-sqlite3') {
    return options.database === ':memory:' || options.database === '' ? 'in-memory' : 'sqlite-file';
  }
  return undefined;
}
