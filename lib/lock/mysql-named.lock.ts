import type { QueryRunner } from 'typeorm';
import { MigrationLockError } from '../errors/migration-lock.error.js';
import { withQuietQueries } from '../typeorm/redacting-logger.js';
import { describeTable, lockDigest, type MigrationLock, type MigrationsTableIdentity } from './migration-lock.js';
import type { LockCondition } from '../contracts/lock-contract.js';

/** MySQL limits lock names to 64 characters. */
const NAME_PREFIX = 'auto-migrator:';

/**
 * A MySQL/MariaDB named lock (`GET_LOCK`) on the migration session's connection, named by a hash
 * of (database, migrations table). The server releases it when the connection ends.
 */
export class MysqlNamedLock implements MigrationLock {
  readonly description: string;
  readonly heldBySession = true;
  private readonly name: string;
  private held = false;

  constructor(
    identity: MigrationsTableIdentity,
    private readonly runner: QueryRunner,
  ) {
    this.name =
      NAME_PREFIX +
      lockDigest(identity)
        .toString('hex')
        .slice(0, 64 - NAME_PREFIX.length);
    this.description = `MySQL named lock "${this.name}" (${describeTable(identity)})`;
  }

  /** GET_LOCK waits in the server and answers 0 when the wait ends: no error. Nothing a waiter sends reaches TypeORM's log. */
  async tryAcquire(waitMs: number): Promise<boolean> {
    const runner = this.runner;
    const rows = (await withQuietQueries(runner, () =>
      runner.query('SELECT GET_LOCK(?, ?) AS acquired', [this.name, Math.max(0, Math.ceil(waitMs / 1000))]),
    )) as Array<{
      acquired: number | string | null;
    }>;
    const acquired = rows[0]?.acquired;
    if (acquired === null || acquired === undefined) {
      throw new MigrationLockError(`GET_LOCK("${this.name}") returned NULL (the server reported an error taking the lock)`);
    }
    this.held = Number(acquired) === 1;
    return this.held;
  }

  get heldCondition(): LockCondition {
    return { sql: 'IS_USED_LOCK(?) = CONNECTION_ID()', parameters: [this.name] };
  }

  async verify(): Promise<void> {
    const rows = (await this.runner
      .query('SELECT IS_USED_LOCK(?) AS holder, CONNECTION_ID() AS self', [this.name])
      .catch((error: unknown) => {
        throw new MigrationLockError(
          `${this.description}: its connection failed (${error instanceof Error ? error.message : String(error)}); no further migration runs without the lock`,
          {
            cause: error,
          },
        );
      })) as Array<{ holder: number | string | null; self: number | string }>;
    const row = rows[0];
    if (row && row.holder !== null && Number(row.holder) === Number(row.self)) return;
    throw new MigrationLockError(
      `${this.description} is no longer held by this connection (${row?.holder === null ? 'nobody holds it' : `connection ${row?.holder} holds it`}). ` +
        `No further migration runs. Behind a multiplexing proxy (ProxySQL, RDS Proxy) make sure the migrating DataSource's connection is pinned, or connect it directly.`,
    );
  }

  async holder(): Promise<string | undefined> {
    const rows = (await withQuietQueries(this.runner, () =>
      this.runner.query(
        `SELECT p.ID AS id, p.USER AS user, p.HOST AS host, p.TIME AS seconds
           FROM information_schema.PROCESSLIST p WHERE p.ID = IS_USED_LOCK(?)`,
        [this.name],
      ),
    )) as Array<{ id: number; user: string; host: string; seconds: number }>;
    const row = rows[0];
    if (!row) return undefined;
    return `connection ${row.id} (${row.user}@${row.host}, current command for ${row.seconds} s)`;
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    const rows = (await this.runner.query('SELECT RELEASE_LOCK(?) AS released', [this.name])) as Array<{
      released: number | string | null;
    }>;
    if (Number(rows[0]?.released) !== 1) {
      throw new MigrationLockError(
        `${this.description}: RELEASE_LOCK found the lock not held by this connection, so it may still be held elsewhere.`,
      );
    }
  }
}
