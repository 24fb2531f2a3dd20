import type { DataSource, QueryRunner } from 'typeorm';
import { resolveMigrationsTableIdentity, type MigrationLock } from './migration-lock.js';
import type { MigrationLockKind } from '../contracts/lock-contract.js';
import type { MigrationLockMode } from '../contracts/lock-contract.js';
import { MysqlNamedLock } from './mysql-named.lock.js';
import { PostgresAdvisoryLock } from './postgres-advisory.lock.js';
import { SqliteFileLock } from './sqlite-file.lock.js';
import { connectionSocket, discardConnection } from '../typeorm/driver-connection.js';
import { MigrationLockError } from '../errors/migration-lock.error.js';
import { invariant } from '../errors/invariant.error.js';

/** Where the lock is taken: the migration session, and whether a pooling proxy sits in front of it. */
export interface LockSession {
  readonly queryRunner: QueryRunner;
  /** A proxy (PgBouncer, a cloud pooler) answers for the server: session state is not ours. */
  readonly behindProxy: boolean;
}

/**
 * How long the transaction-scoped lock's own connection may take to answer its check and its
 * release before it is taken for lost and closed (closing ends its transaction, which releases the
 * lock once the server notices). The migration session has its own watch (connectionCheck).
 */
export interface LockConnectionSettings {
  readonly answerWithinMs: number;
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
  settings: LockConnectionSettings,
): Promise<MigrationLock> {
  if (kind === 'sqlite-file') {
    return new SqliteFileLock(dataSource, await resolveMigrationsTableIdentity(kind, dataSource, undefined));
  }
  invariant(session, `the ${kind} migration lock needs a dedicated connection`);
  if (kind === 'mysql') {
    return new MysqlNamedLock(await resolveMigrationsTableIdentity(kind, dataSource, session.queryRunner), session.queryRunner);
  }
  const scope = mode === 'transaction' || (mode === 'auto' && session.behindProxy) ? 'transaction' : 'session';
  if (scope === 'session') {
    const identity = await resolveMigrationsTableIdentity(kind, dataSource, session.queryRunner);
    return new PostgresAdvisoryLock(identity, session.queryRunner, 'session');
  }
  const own = dataSource.createQueryRunner('master');
  try {
    await own.connect();
    const identity = await resolveMigrationsTableIdentity(kind, dataSource, own);
    // A peer that vanished while the lock is idle is noticed by TCP keepalive, not only by the next query.
    connectionSocket(own)?.setKeepAlive?.(true, settings.answerWithinMs);
    return withConnection(new PostgresAdvisoryLock(identity, own, 'transaction'), own, settings.answerWithinMs);
  } catch (error) {
    await own.release().catch(() => undefined);
    throw error;
  }
}

/**
 * The lock, releasing `connection` with it (whatever the release of the lock itself did). Its check
 * and its release must answer within `answerWithinMs`: a connection that does not (a network
 * partition, a proxy gone silent) is closed, and the call fails saying so, instead of hanging.
 */
function withConnection(lock: MigrationLock, connection: QueryRunner, answerWithinMs: number): MigrationLock {
  const answered = async <T>(what: string, work: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const silent = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        connectionSocket(connection)?.destroy();
        reject(
          new MigrationLockError(
            `${lock.description}: its connection did not answer the ${what} within ${answerWithinMs} ms (connectionCheck.timeoutMs) and was closed; ` +
              `the server ends its transaction, releasing the lock, once it notices`,
          ),
        );
      }, answerWithinMs);
    });
    try {
      return await Promise.race([work, silent]);
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    description: lock.description,
    heldBySession: false,
    tryAcquire: (waitMs) => lock.tryAcquire(waitMs),
    verify: () => answered('lock check', lock.verify()),
    holder: () => lock.holder(),
    release: async () => {
      try {
        await answered('release', lock.release());
      } catch (error) {
        await discardConnection(connection);
        throw error;
      }
      await connection.release().catch(() => undefined);
    },
  };
}
