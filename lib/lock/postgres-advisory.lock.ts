import { invariant } from '../errors/invariant.error.js';
import { setTimeout as delay } from 'node:timers/promises';
import type { QueryRunner } from 'typeorm';
import { withQuietQueries } from '../typeorm/redacting-logger.js';
import { MigrationLockError } from '../errors/migration-lock.error.js';
import { describeTable, lockDigest, POOLER_ADVICE, type MigrationLock, type MigrationsTableIdentity } from './migration-lock.js';

/** A waiter's first and longest pause between tries. */
const POLL_MIN_MS = 50;
const POLL_MAX_MS = 500;

/** The advisory lock's row in pg_locks (key split into classid/objid, objsubid 1 for a bigint key), held by this backend. */
function heldByThisBackend(classid: string, objid: string): string {
  return `EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid = ${classid}::bigint::oid AND l.objid = ${objid}::bigint::oid AND l.pid = pg_backend_pid())`;
}
const HELD_BY_THIS_BACKEND = heldByThisBackend('$2', '$3');

/**
 * A PostgreSQL advisory lock keyed by a 64-bit hash of the migrations table's identity, as the
 * server resolves it.
 *
 * - `session` scope: `pg_advisory_lock` on the migration session itself; the server releases it
 *   when the session ends, so a process killed while holding it does not leave it held.
 * - `transaction` scope: `pg_advisory_xact_lock` inside a transaction kept open on a connection of
 *   its own. A transaction-pooling proxy (PgBouncer `pool_mode=transaction`) pins a server
 *   connection for a transaction's whole length and closes it when the client goes away mid-
 *   transaction, so this lock holds, and is released, through such a proxy. It conflicts with the
 *   session scope's lock (same key space), so replicas connected either way exclude each other.
 *
 * Both refuse a lock that this server connection already holds before taking it (a pooler handed
 * over a connection on which another client left it), check before each migration that it is still
 * held by the same backend, and treat an unlock that finds nothing to unlock as an error.
 */
export class PostgresAdvisoryLock implements MigrationLock {
  readonly description: string;
  readonly heldBySession: boolean;
  private readonly key: string;
  private readonly parts: [string, string];
  /** The backend that took the lock: every later check must find it there. */
  private backend: number | undefined;
  private inTransaction = false;
  /** The pause before the next try while waiting: it grows across the runner's slices of waiting, and starts over once the lock is taken. */
  private pause = POLL_MIN_MS;

  constructor(
    identity: MigrationsTableIdentity,
    private readonly runner: QueryRunner,
    private readonly scope: 'session' | 'transaction',
  ) {
    const key = lockDigest(identity).readBigInt64BE(0);
    const unsigned = BigInt.asUintN(64, key);
    this.key = String(key);
    this.parts = [String(unsigned >> 32n), String(unsigned & 0xffffffffn)];
    this.heldBySession = scope === 'session';
    this.description = `PostgreSQL ${scope === 'session' ? '' : 'transaction-scoped '}advisory lock ${this.key} (${describeTable(identity)})`;
  }

  /**
   * Tries, and polls for up to `waitMs`: a pg_try_advisory lock call per try, each a statement of
   * its own, so that a waiter holds no snapshot between tries (a holder's CREATE INDEX CONCURRENTLY
   * waits for every older snapshot) and no wait ends in an error (a lock_timeout would be one in
   * the server's log and in TypeORM's). Nothing a waiter sends reaches TypeORM's log; the runner
   * reports the wait itself.
   */
  async tryAcquire(waitMs: number): Promise<boolean> {
    return withQuietQueries(this.runner, async () => {
      const deadline = Date.now() + waitMs;
      for (;;) {
        if (await (this.scope === 'session' ? this.trySession() : this.tryInTransaction())) {
          this.pause = POLL_MIN_MS;
          return true;
        }
        const left = deadline - Date.now();
        if (left <= 0) return false;
        await delay(Math.min(this.pause, left));
        this.pause = Math.min(this.pause * 2, POLL_MAX_MS);
      }
    });
  }

  async verify(): Promise<void> {
    const row = await this.readHeld().catch((error: unknown) => {
      throw new MigrationLockError(
        `${this.description}: its connection failed (${messageOf(error)}); no further migration runs without the lock`,
        {
          cause: error,
        },
      );
    });
    if (row && row.held && Number(row.pid) === this.backend) return;
    throw new MigrationLockError(
      `${this.description} is no longer held by this process: ` +
        (row && Number(row.pid) !== this.backend
          ? `the statement ran on server process ${row.pid}, but the lock was taken on ${this.backend}. `
          : `server process ${this.backend} no longer holds it. `) +
        `No further migration runs. ${POOLER_ADVICE}`,
    );
  }

  /** This connection's server process, and whether it holds the lock. */
  private async readHeld(): Promise<{ pid: number; held: boolean } | undefined> {
    const rows = (await this.runner.query(
      `SELECT pg_backend_pid() AS pid, ${heldByThisBackend('$1', '$2')} AS held`,
      this.parts,
    )) as Array<{
      pid: number;
      held: boolean;
    }>;
    return rows[0];
  }

  async holder(): Promise<string | undefined> {
    const rows = (await withQuietQueries(this.runner, () =>
      this.runner.query(
        `SELECT a.pid, a.application_name, host(a.client_addr) AS client, a.backend_start
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
          AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid`,
        this.parts,
      ),
    )) as Array<{ pid: number; application_name: string; client: string | null; backend_start: Date }>;
    const row = rows[0];
    if (!row) return undefined;
    return `pid ${row.pid} (application_name "${row.application_name}", client ${row.client ?? 'local socket'}, connected since ${new Date(row.backend_start).toISOString()})`;
  }

  async release(): Promise<void> {
    if (this.scope === 'transaction') {
      if (!this.inTransaction) return;
      this.inTransaction = false;
      // Ending the transaction releases the lock; a failure here means the connection is gone, and with it the lock.
      await this.runner.query('COMMIT');
      return;
    }
    await this.unlock([]);
  }

  async releaseResetting(settings: readonly string[], first?: string): Promise<void> {
    invariant(this.scope !== 'transaction', `${this.description}: held by a connection of its own, not the session's`);
    await this.unlock(settings, first);
  }

  /**
   * Session scope: pg_advisory_unlock, with `settings` of the connection reset (as RESET does) in
   * the same statement, and `first` evaluated before it (a target list is evaluated in order).
   */
  private async unlock(settings: readonly string[], first?: string): Promise<void> {
    if (this.backend === undefined) return;
    this.backend = undefined;
    const columns = [
      ...(first === undefined ? [] : [`${first} AS first`]),
      'pg_advisory_unlock($1::bigint) AS released',
      ...(settings.length === 0
        ? []
        : ['(SELECT count(set_config(name, reset_val, false)) FROM pg_catalog.pg_settings WHERE name = ANY($2::text[])) AS reset']),
    ];
    const rows = (await this.runner.query(
      `SELECT ${columns.join(', ')}`,
      settings.length === 0 ? [this.key] : [this.key, settings],
    )) as Array<{ released: boolean }>;
    if (rows[0]?.released !== true) {
      throw new MigrationLockError(
        `${this.description}: pg_advisory_unlock found no such lock on this connection's server process, so the lock may still be held elsewhere. ${POOLER_ADVICE}`,
      );
    }
  }

  /**
   * Session scope. The check that this backend does not hold the lock already comes first in the
   * same statement (CASE evaluates its branches in order): a session lock is re-entrant, so a
   * pooled server connection on which another client left it would otherwise "grant" it again.
   */
  private async trySession(): Promise<boolean> {
    const rows = (await this.runner.query(
      `SELECT pg_backend_pid() AS pid, CASE WHEN ${HELD_BY_THIS_BACKEND} THEN NULL ELSE pg_try_advisory_lock($1::bigint) END AS locked`,
      [this.key, ...this.parts],
    )) as Array<{ pid: number; locked: boolean | null }>;
    return this.granted(rows[0]);
  }

  /**
   * Transaction scope: the lock is taken inside a transaction that stays open until release(). A
   * waiter polls with short transactions rather than waiting inside one, which would pin one of the
   * pooler's few server connections per waiter and starve the holder's migrations. The same
   * re-entrance check as the session scope's: a backend's own session lock (left on a pooled server
   * connection by another client) would not block its transaction lock either.
   */
  private async tryInTransaction(): Promise<boolean> {
    await this.runner.query('BEGIN');
    try {
      // An idle-in-transaction timeout on the server must not end the transaction that is the lock.
      await this.runner.query('SET LOCAL idle_in_transaction_session_timeout = 0');
      const rows = (await this.runner.query(
        `SELECT pg_backend_pid() AS pid, CASE WHEN ${HELD_BY_THIS_BACKEND} THEN NULL ELSE pg_try_advisory_xact_lock($1::bigint) END AS locked`,
        [this.key, ...this.parts],
      )) as Array<{ pid: number; locked: boolean | null }>;
      if (!this.granted(rows[0])) {
        await this.runner.query('ROLLBACK');
        return false;
      }
      this.inTransaction = true;
      return true;
    } catch (error) {
      await this.runner.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private granted(row: { pid: number; locked: boolean | null } | undefined): boolean {
    if (row?.locked === null) {
      throw new MigrationLockError(
        `${this.description} is already held by the server connection this process was given (server process ${row.pid}), ` +
          `though not by this process: another client left it there. ${POOLER_ADVICE}`,
      );
    }
    if (row?.locked !== true) return false;
    this.backend = Number(row.pid);
    return true;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
