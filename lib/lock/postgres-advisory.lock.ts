import type { DataSource, QueryRunner } from 'typeorm';
import { errorChain } from '../util/error-chain.js';
import { describeTable, lockDigest, type MigrationLock, type MigrationsTableIdentity } from './migration-lock.js';

const LOCK_NOT_AVAILABLE = '55P03';

/**
 * A session-level `pg_advisory_lock` on the migration session's connection, keyed by a 64-bit
 * hash of (database, schema, migrations table). The server releases it when the session ends, so
 * a process killed while holding it does not leave it held.
 */
export class PostgresAdvisoryLock implements MigrationLock {
  readonly description: string;
  private readonly key: bigint;

  constructor(
    private readonly dataSource: DataSource,
    identity: MigrationsTableIdentity,
    private readonly runner: QueryRunner,
  ) {
    this.key = lockDigest(identity).readBigInt64BE(0);
    this.description = `PostgreSQL advisory lock ${this.key} (${describeTable(identity)})`;
  }

  async tryAcquire(waitMs: number): Promise<boolean> {
    const runner = this.runner;
    if (waitMs <= 0) {
      const rows = (await runner.query('SELECT pg_try_advisory_lock($1::bigint) AS locked', [String(this.key)])) as Array<{
        locked: boolean;
      }>;
      return rows[0]?.locked === true;
    }
    // Wait inside the server (woken the moment the holder releases), bounded by lock_timeout.
    await runner.query('BEGIN');
    try {
      await runner.query(`SET LOCAL lock_timeout = '${Math.ceil(waitMs)}ms'`);
      await runner.query('SELECT pg_advisory_lock($1::bigint)', [String(this.key)]);
      await runner.query('COMMIT');
      return true;
    } catch (error) {
      await runner.query('ROLLBACK').catch(() => undefined);
      if ([...errorChain(error)].some((link) => link['code'] === LOCK_NOT_AVAILABLE)) return false;
      throw error;
    }
  }

  async holder(): Promise<string | undefined> {
    const unsigned = BigInt.asUintN(64, this.key);
    const rows = (await this.dataSource.query(
      `SELECT a.pid, a.application_name, host(a.client_addr) AS client, a.backend_start
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
          AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid`,
      [String(unsigned >> 32n), String(unsigned & 0xffffffffn)],
    )) as Array<{ pid: number; application_name: string; client: string | null; backend_start: Date }>;
    const row = rows[0];
    if (!row) return undefined;
    return `pid ${row.pid} (application_name "${row.application_name}", client ${row.client ?? 'local socket'}, connected since ${new Date(row.backend_start).toISOString()})`;
  }

  async release(): Promise<void> {
    await this.runner.query('SELECT pg_advisory_unlock($1::bigint)', [String(this.key)]);
  }
}

