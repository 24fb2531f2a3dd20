import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';

/**
 * A cross-process mutex for one migrations table. Implementations: PostgreSQL advisory lock,
 * MySQL/MariaDB named lock, SQLite file lock.
 */
export interface MigrationLock {
  /** What is locked, for log lines. */
  readonly description: string;
  /** Tries to take the lock, waiting at most `waitMs` (0: do not wait). */
  tryAcquire(waitMs: number): Promise<boolean>;
  /** Who holds the lock now, as far as the database tells (pid, client, since when). */
  holder(): Promise<string | undefined>;
  /** Releases the lock. Throws when that fails: the caller must then close the connection for good. */
  release(): Promise<void>;
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

/** The identity of a migrations table: what one lock protects. */
export interface MigrationsTableIdentity {
  readonly database: string;
  readonly schema: string;
  readonly table: string;
}

export function migrationsTableIdentity(dataSource: DataSource): MigrationsTableIdentity {
  const options = dataSource.options as { database?: unknown; schema?: unknown; migrationsTableName?: string };
  const database = dataSource.driver.database ?? (typeof options.database === 'string' ? options.database : '');
  const schema = typeof options.schema === 'string' ? options.schema : '';
  return { database: String(database), schema, table: options.migrationsTableName ?? 'migrations' };
}

/** A stable 32-byte digest of the migrations table identity: the source of every lock key. */
export function lockDigest(identity: MigrationsTableIdentity): Buffer {
  return createHash('sha256')
    .update(['nestjs-auto-migrator', identity.database, identity.schema, identity.table].join('\0'))
    .digest();
}

export function describeTable(identity: MigrationsTableIdentity): string {
  return [identity.database, identity.schema, identity.table].filter(Boolean).join('.');
}
