import type { DataSource, QueryRunner } from 'typeorm';

/** Per-session limits for the statements migrations run. */
export interface MigrationTimeouts {
  /** Longest a single statement may run, in ms. */
  readonly statementTimeoutMs?: number;
  /** Longest a statement may wait for a table or row lock held by someone else, in ms. */
  readonly lockTimeoutMs?: number;
}

/**
 * The dedicated connection migrations run on (PostgreSQL, MySQL/MariaDB): it carries the
 * migration lock and the session timeouts, and it can be cancelled from another connection.
 * SQLite has none: TypeORM shares one better-sqlite3 connection across the application.
 */
export class MigrationSession {
  private timeoutsApplied = false;
  private searchPathSet = false;

  private constructor(
    private readonly dataSource: DataSource,
    readonly queryRunner: QueryRunner,
    private readonly dialect: 'postgres' | 'mysql',
    private readonly backendId: number,
  ) {}

  /** Opens a session, or undefined where the database kind has none. */
  static async open(dataSource: DataSource): Promise<MigrationSession | undefined> {
    const type = dataSource.options.type;
    const dialect = type === 'postgres' ? 'postgres' : type === 'mysql' || type === 'mariadb' ? 'mysql' : undefined;
    if (!dialect) return undefined;
    const queryRunner = dataSource.createQueryRunner('master');
    await queryRunner.connect();
    try {
      if (dialect === 'postgres') {
        // If this process dies during a long statement, the server notices the lost client within a
        // second, aborts the statement and ends the session, releasing its locks (PostgreSQL 14+).
        await queryRunner.query(`SET client_connection_check_interval = '1s'`).catch(() => undefined);
      }
      const rows = (await queryRunner.query(
        dialect === 'postgres' ? 'SELECT pg_backend_pid() AS id' : 'SELECT CONNECTION_ID() AS id',
      )) as Array<{ id: number | string }>;
      return new MigrationSession(dataSource, queryRunner, dialect, Number(rows[0]?.id));
    } catch (error) {
      await queryRunner.release().catch(() => undefined);
      throw error;
    }
  }

  /** Applies the statement and lock timeouts to this session only. */
  async applyTimeouts(timeouts: MigrationTimeouts): Promise<void> {
    const { statementTimeoutMs, lockTimeoutMs } = timeouts;
    if (statementTimeoutMs === undefined && lockTimeoutMs === undefined) return;
    this.timeoutsApplied = true;
    if (this.dialect === 'postgres') {
      if (statementTimeoutMs !== undefined) await this.queryRunner.query(`SET statement_timeout = ${Math.round(statementTimeoutMs)}`);
      if (lockTimeoutMs !== undefined) await this.queryRunner.query(`SET lock_timeout = ${Math.round(lockTimeoutMs)}`);
      return;
    }
    if (lockTimeoutMs !== undefined) {
      // Seconds, whole: metadata locks (DDL) and InnoDB row locks.
      const seconds = Math.max(1, Math.ceil(lockTimeoutMs / 1000));
      await this.queryRunner.query(`SET SESSION lock_wait_timeout = ${seconds}`);
      await this.queryRunner.query(`SET SESSION innodb_lock_wait_timeout = ${seconds}`);
    }
    if (statementTimeoutMs !== undefined) {
      // MariaDB: max_statement_time (seconds, fractional). MySQL: max_execution_time (ms, SELECT only).
      await this.queryRunner
        .query(`SET SESSION max_statement_time = ${statementTimeoutMs / 1000}`)
        .catch(() => this.queryRunner.query(`SET SESSION max_execution_time = ${Math.round(statementTimeoutMs)}`));
    }
  }

  /**
   * Points this session at a tenant schema (PostgreSQL): creates it when asked and missing, and sets
   * `search_path` so unqualified SQL in migrations lands there. The name is validated beforehand.
   */
  async useSchema(schema: string, create: boolean): Promise<void> {
    const quoted = `"${schema.replaceAll('"', '""')}"`;
    if (create) await this.queryRunner.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    this.searchPathSet = true;
    await this.queryRunner.query(`SET search_path TO ${quoted}`);
  }

  /** Cancels the statement this session is running, from another connection; the database rolls it back. */
  async cancelStatement(): Promise<void> {
    if (!Number.isFinite(this.backendId)) return;
    if (this.dialect === 'postgres') await this.dataSource.query('SELECT pg_cancel_backend($1)', [this.backendId]);
    else await this.dataSource.query(`KILL QUERY ${this.backendId}`);
  }

  /**
   * Returns the connection to the pool with its settings reset, or closes it for good when
   * `destroy` is set (for example when a lock on it may not have been released).
   */
  async close(destroy: boolean): Promise<void> {
    if (!destroy) {
      try {
        await this.resetSettings();
        await this.queryRunner.release();
        return;
      } catch {
        // fall through: a connection whose state is unknown is not returned to the pool
      }
    }
    const runner = this.queryRunner as QueryRunner & {
      releasePostgresConnection?: (error: unknown) => Promise<void>;
      databaseConnection?: { destroy?: () => void };
    };
    if (this.dialect === 'postgres' && runner.releasePostgresConnection) {
      // An error passed to the pool's release callback makes pg close the client.
      await runner.releasePostgresConnection(new Error('migration session closed for good')).catch(() => undefined);
    } else {
      runner.databaseConnection?.destroy?.();
      await runner.release().catch(() => undefined);
    }
  }

  private async resetSettings(): Promise<void> {
    if (this.dialect === 'postgres') {
      await this.queryRunner.query('RESET client_connection_check_interval').catch(() => undefined);
      if (this.searchPathSet) await this.queryRunner.query('RESET search_path');
      if (this.timeoutsApplied) {
        await this.queryRunner.query('RESET statement_timeout');
        await this.queryRunner.query('RESET lock_timeout');
      }
      return;
    }
    if (this.timeoutsApplied) {
      await this.queryRunner.query('SET SESSION lock_wait_timeout = DEFAULT');
      await this.queryRunner.query('SET SESSION innodb_lock_wait_timeout = DEFAULT');
      await this.queryRunner.query('SET SESSION max_statement_time = DEFAULT').catch(() => undefined);
      await this.queryRunner.query('SET SESSION max_execution_time = DEFAULT').catch(() => undefined);
    }
  }
}
