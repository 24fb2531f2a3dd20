import type { DataSource } from 'typeorm';
import { migrationsTableIdentity, type MigrationLock, type MigrationLockKind } from './migration-lock.js';
import { MysqlNamedLock } from './mysql-named.lock.js';
import { PostgresAdvisoryLock } from './postgres-advisory.lock.js';
import { SqliteFileLock } from './sqlite-file.lock.js';

/** A new, not yet acquired, lock of this kind for the DataSource's migrations table. */
export function createMigrationLock(kind: MigrationLockKind, dataSource: DataSource): MigrationLock {
  const identity = migrationsTableIdentity(dataSource);
  switch (kind) {
    case 'postgres':
      return new PostgresAdvisoryLock(dataSource, identity);
    case 'mysql':
      return new MysqlNamedLock(dataSource, identity);
    case 'sqlite-file':
      return new SqliteFileLock(dataSource, identity);
  }
}
