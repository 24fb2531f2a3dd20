import type { DataSource, QueryRunner } from 'typeorm';
import {
  resolveMigrationsTableIdentity,
  type MigrationLock,
  type MigrationLockKind,
  type MigrationLockMode,
} from './migration-lock.js';
import { MysqlNamedLock } from './mysql-named.lock.js';
import { PostgresAdvisoryLock } from './postgres-advisory.lock.js';
import { SqliteFileLock } from './sqlite-file.lock.js';
import { discardConnection } from '../util/driver-connection.js';

/** Where the lock is taken: the migration session, and whether a pooling proxy sits in front of it. */
export interface LockSession {
  readonly queryRunner: QueryRunner;
  /** A proxy (PgBouncer, a cloud pooler) answers for the server: session state is not ours. */
  readonly behindProxy: boolean;
}

/**
 * A new, not yet acquired, lock of this kind for the DataSource's migrations table, keyed by the
 * table's identity as the server resolves it (read on the connection that takes the lock). The
 * server locks (PostgreSQL session scope, MySQL) are held by `session`, the connection the
 * migrations then run on; the PostgreSQL transaction-scoped lock by a connection of its own,
 * released with the lock.
 */
export async function createMigrationLock(
  kind: MigrationLockKind,
  mode: MigrationLockMode,
  dataSource: DataSource,
  session: LockSession | undefined,
): Promise<MigrationLock> {
  if (kind === 'sqlite-file') {
    return new SqliteFileLock(dataSource, await resolveMigrationsTableIdentity(kind, dataSource, undefined));
  }
  if (!session) throw new Error(`the ${kind} migration lock needs a dedicated connection`);
  if (kind === 'mysql') {
    return new MysqlNamedLock(dataSource, await resolveMigrationsTableIdentity(kind, dataSource, session.queryRunner), session.queryRunner);
  }
  const scope = mode === 'transaction' || (mode === 'auto' && session.behindProxy) ? 'transaction' : 'session';
  if (scope === 'session') {
    const identity = await resolveMigrationsTableIdentity(kind, dataSource, session.queryRunner);
    return new PostgresAdvisoryLock(dataSource, identity, session.queryRunner, 'session');
  }
  const own = dataSource.createQueryRunner('master');
  try {
    await own.connect();
    const identity = await resolveMigrationsTableIdentity(kind, dataSource, own);
    return withConnection(new PostgresAdvisoryLock(dataSource, identity, own, 'transaction'), own);
  } catch (error) {
    await own.release().catch(() => undefined);
    throw error;
  }
}

/** The lock, releasing `connection` with it (whatever the release of the lock itself did). */
function withConnection(lock: MigrationLock, connection: QueryRunner): MigrationLock {
  return {
    description: lock.description,
    tryAcquire: (waitMs) => lock.tryAcquire(waitMs),
    verify: () => lock.verify(),
    holder: () => lock.holder(),
    release: async () => {
      try {
        await lock.release();
      } catch (error) {
        await discardConnection(connection);
        throw error;
      }
      await connection.release().catch(() => undefined);
    },
  };
}
