import type { DataSource, QueryRunner } from 'typeorm';
import { migrationsTableIdentity, type MigrationLock, type MigrationLockKind } from './migration-lock.js';
import { MysqlNamedLock } from './mysql-named.lock.js';
import { PostgresAdvisoryLock } from './postgres-advisory.lock.js';
import { SqliteFileLock } from './sqlite-file.lock.js';

/**
 * A new, not yet acquired, lock of this kind for the DataSource's migrations table. The server
 * locks (PostgreSQL, MySQL) are held by `session`, the connection the migrations then run on.
 */
export function createMigrationLock(kind: MigrationLockKind, dataSource: DataSource, session: QueryRunner | undefined): MigrationLock {
  const identity = migrationsTableIdentity(dataSource);
  const held = () => {
    if (!session) throw new Error(`the ${kind} migration lock needs a dedicated connection`);
    return session;
  };
  switch (kind) {
    case 'postgres':
      return new PostgresAdvisoryLock(dataSource, identity, held());
    case 'mysql':
      return new MysqlNamedLock(dataSource, identity, held());
    case 'sqlite-file':
      return new SqliteFileLock(dataSource, identity);
  }
}
