import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import type { DataSource, QueryRunner } from 'typeorm';
import { MigrationConnectionLostError } from '../errors/migration-connection-lost.error.js';
import { connectionSocket, discardConnection, driverConnection } from '../typeorm/driver-connection.js';
import { quoteIdentifier } from '../util/sql-identifier.js';
import { SessionWatchdog, type ConnectionCheckSettings } from './session-watchdog.js';

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
 *
 * Behind a transaction-pooling proxy (PgBouncer and the like, detected on PostgreSQL when the
 * server sees another client address than this socket's), session settings would land on whatever
 * server connection runs the statement, and stay there for other clients: the session then sets
 * nothing for the session, and {@link MigrationSession.prepareTransaction} applies the same settings
 * to each migration's transaction with `set_config(…, true)` instead.
 */
export class MigrationSession {
  private static readonly byRunner = new WeakMap<QueryRunner, MigrationSession>();
  private watchdog: SessionWatchdog | undefined;
  private lost: { reason: string; afterMs: number } | undefined;
  private timeouts: MigrationTimeouts = {};
  private schema: string | undefined;
  private timeoutsApplied = false;
  private searchPathSet = false;
  /** PostgreSQL 14+: client_connection_check_interval exists. */
  private checksClientConnection = false;
  /** client_connection_check_interval is to be set with the next settings this session sends (see connect). */
  private checkIntervalPending = false;
  /** client_connection_check_interval is set on this connection: reset at close. */
  private checkIntervalSet = false;

  private constructor(
    private readonly dataSource: DataSource,
    readonly queryRunner: QueryRunner,
    private readonly dialect: 'postgres' | 'mysql',
    private backendId: number,
    /** A proxy answers for the server: what this session sets may land on another client's connection. */
    readonly behindProxy: boolean,
  ) {}

  /**
   * Opens a session, or undefined where the database kind has none. With `check`, its connection
   * is watched (TCP keepalive after `check.timeoutMs` idle, and a check from outside every
   * `check.intervalMs`) until it is closed; see {@link SessionWatchdog}.
   */
  static async open(dataSource: DataSource, check?: ConnectionCheckSettings, forSchema = false): Promise<MigrationSession | undefined> {
    const session = await MigrationSession.connect(dataSource, forSchema);
    if (session && check) session.watch(check);
    return session;
  }

  /**
   * With `forSchema` (a session that {@link useSchema} points at a tenant before any migration), a
   * pooled connection this process has opened a session on before is not asked again who it is: its
   * settings go with the statement that sets the schema.
   */
  private static async connect(dataSource: DataSource, forSchema: boolean): Promise<MigrationSession | undefined> {
    const type = dataSource.options.type;
    const dialect = type === 'postgres' ? 'postgres' : type === 'mysql' || type === 'mariadb' ? 'mysql' : undefined;
    if (!dialect) return undefined;
    const queryRunner = dataSource.createQueryRunner('master');
    await queryRunner.connect();
    try {
      if (dialect === 'mysql') {
        const rows = (await queryRunner.query('SELECT CONNECTION_ID() AS id')) as Array<{ id: number | string }>;
        return new MigrationSession(dataSource, queryRunner, dialect, Number(rows[0]?.id), false);
      }
      // Directly connected (the server sees this socket's port, see seenThroughProxy) to PostgreSQL
      // 14+, in the same round trip: if this process dies during a long statement, the server
      // notices the lost client within a second, aborts the statement and ends the session,
      // releasing its locks. Behind a proxy that setting would stay on another client's connection.
      const connection = driverConnection(queryRunner);
      // Directly connected only: behind a proxy, each transaction may run on another server process.
      const known = forSchema && connection ? knownConnections.get(connection) : undefined;
      if (known) {
        const session = new MigrationSession(dataSource, queryRunner, dialect, known.backendId, false);
        session.checksClientConnection = known.checksClientConnection;
        session.checkIntervalPending = known.checksClientConnection;
        return session;
      }
      const localPort = connectionSocket(queryRunner)?.localPort;
      const rows = (await queryRunner.query(
        `SELECT pg_backend_pid() AS id, inet_client_port() AS port, current_setting('server_version_num')::int AS version, ` +
          `CASE WHEN inet_client_port() IS NOT DISTINCT FROM $1::int AND current_setting('server_version_num')::int >= 140000 ` +
          `THEN set_config('client_connection_check_interval', '1s', false) END AS "checkInterval"`,
        [localPort ?? null],
      )) as Array<{ id: number | string; port: number | null; version: number }>;
      const behindProxy = seenThroughProxy(localPort, rows[0]?.port ?? null);
      const session = new MigrationSession(dataSource, queryRunner, dialect, Number(rows[0]?.id), behindProxy);
      session.checksClientConnection = Number(rows[0]?.version) >= 140_000;
      session.checkIntervalSet = !behindProxy && session.checksClientConnection;
      if (connection && !behindProxy) {
        knownConnections.set(connection, { backendId: session.backendId, checksClientConnection: session.checksClientConnection });
      }
      return session;
    } catch (error) {
      await queryRunner.release().catch(() => undefined);
      throw error;
    }
  }

  /**
   * The error to report instead of `cause` when the connection check declared this query runner's
   * session dead (undefined otherwise): it says what was detected, where and how fast.
   */
  static connectionLost(
    queryRunner: QueryRunner,
    dataSource: string,
    host: string | undefined,
    cause: unknown,
  ): MigrationConnectionLostError | undefined {
    const lost = MigrationSession.byRunner.get(queryRunner)?.lost;
    if (!lost) return undefined;
    return new MigrationConnectionLostError(
      `its migration connection to ${host ?? 'the database'} stopped answering (${lost.reason}); ` +
        `closed ${(lost.afterMs / 1000).toFixed(1)} s after its last answered check. The database rolls back what did not commit once it notices the connection is gone`,
      dataSource,
      lost.afterMs,
      { cause },
    );
  }

  private watch(check: ConnectionCheckSettings): void {
    MigrationSession.byRunner.set(this.queryRunner, this);
    // An idle socket whose peer vanished fails after timeoutMs + 10 probes 1 s apart (Node's libuv on Linux).
    connectionSocket(this.queryRunner)?.setKeepAlive?.(true, check.timeoutMs);
    this.watchdog = new SessionWatchdog(this.dataSource, this.dialect, this.backendId, check, (reason, afterMs) => {
      this.lost = { reason, afterMs };
      // The statement in flight (or the next one) fails at once instead of waiting for TCP to give up.
      connectionSocket(this.queryRunner)?.destroy();
    });
    this.watchdog.start();
  }

  /**
   * True when this connection is known to be the server session itself (PostgreSQL, no proxy seen):
   * a lock it took stays held until it unlocks or the connection ends, which every later statement
   * would notice. Elsewhere (a proxy, or MySQL, where one cannot be seen) the lock is checked anew.
   */
  get isServerSession(): boolean {
    return this.dialect === 'postgres' && !this.behindProxy;
  }

  /** Applies the statement and lock timeouts to this session only (behind a proxy: to each migration's transaction). */
  async applyTimeouts(timeouts: MigrationTimeouts): Promise<void> {
    const { statementTimeoutMs, lockTimeoutMs } = timeouts;
    this.timeouts = timeouts;
    if (statementTimeoutMs === undefined && lockTimeoutMs === undefined) return;
    if (this.behindProxy) return;
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
   * `search_path` so unqualified SQL in migrations lands there (behind a proxy: in each migration's
   * transaction). The name is validated beforehand. `also`, a statement of literals, goes in the same
   * round trip.
   */
  async useSchema(schema: string, create: boolean, also?: string): Promise<void> {
    const quoted = quoteIdentifier(schema);
    const statements = this.checkIntervalPending ? [`SET client_connection_check_interval = '1s'`] : [];
    this.checkIntervalSet ||= this.checkIntervalPending;
    this.checkIntervalPending = false;
    if (create) statements.push(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    this.schema = schema;
    if (!this.behindProxy) {
      this.searchPathSet = true;
      statements.push(`SET search_path TO ${quoted}`);
    }
    if (also !== undefined) statements.push(also);
    // One round trip: a simple query of a few statements, no parameters.
    if (statements.length > 0) await this.queryRunner.query(statements.join('; '));
  }

  /**
   * Called at the start of each migration, inside its transaction. Behind a proxy it applies the
   * session's settings to this transaction only (the server connection is ours only until it ends)
   * and notes which server process runs it. Throws, before the migration runs, where a setting the
   * migration depends on cannot be applied: a tenant migration outside a transaction.
   */
  async prepareTransaction(migration: string): Promise<void> {
    if (!this.behindProxy) return;
    if (!this.queryRunner.isTransactionActive) {
      if (this.schema !== undefined) {
        throw new AutoMigratorConfigError(
          `"${migration}" runs without a transaction (transaction mode 'none' or transaction = false), and behind a transaction-pooling proxy ` +
            `its search_path (tenant "${this.schema}") cannot be set for it: it would land in another schema. Run tenant migrations in transactions, ` +
            `or connect the DataSource to PostgreSQL directly.`,
        );
      }
      return;
    }
    const settings: Array<[string, string]> = this.checksClientConnection ? [['client_connection_check_interval', '1s']] : [];
    if (this.schema !== undefined) settings.push(['search_path', quoteIdentifier(this.schema)]);
    if (this.timeouts.statementTimeoutMs !== undefined)
      settings.push(['statement_timeout', String(Math.round(this.timeouts.statementTimeoutMs))]);
    if (this.timeouts.lockTimeoutMs !== undefined) settings.push(['lock_timeout', String(Math.round(this.timeouts.lockTimeoutMs))]);
    const rows = (await this.queryRunner.query(
      `SELECT ${['pg_backend_pid() AS id', ...settings.map((_, index) => `set_config($${index * 2 + 1}, $${index * 2 + 2}, true)`)].join(', ')}`,
      settings.flat(),
    )) as Array<{ id: number }>;
    this.backendId = Number(rows[0]?.id);
  }

  /** Cancels the statement this session is running; the database rolls it back. */
  async cancelStatement(): Promise<void> {
    if (this.behindProxy) {
      // pg_cancel_backend could reach another client's statement once the proxy has moved this
      // session on; closing this client mid-transaction makes the proxy drop the server connection,
      // and the server rolls the transaction back.
      connectionSocket(this.queryRunner)?.destroy();
      return;
    }
    if (!Number.isFinite(this.backendId)) return;
    if (this.dialect === 'postgres') await this.dataSource.query('SELECT pg_cancel_backend($1)', [this.backendId]);
    else await this.dataSource.query(`KILL QUERY ${this.backendId}`);
  }

  /**
   * Returns the connection to the pool with its settings reset, or closes it for good when
   * `destroy` is set (for example when a lock on it may not have been released).
   */
  async close(destroy: boolean): Promise<void> {
    this.watchdog?.stop();
    if (this.lost) destroy = true;
    if (!destroy) {
      try {
        await this.resetSettings();
        await this.queryRunner.release();
        return;
      } catch {
        // fall through: a connection whose state is unknown is not returned to the pool
      }
    }
    await discardConnection(this.queryRunner);
  }

  /**
   * The PostgreSQL settings {@link close} resets (none behind a proxy, which kept none), for a
   * statement that resets them along with its own work; {@link settingsWereReset} says it did.
   */
  settingsToReset(): string[] {
    if (this.behindProxy || this.dialect !== 'postgres') return [];
    return [
      ...(this.checkIntervalSet ? ['client_connection_check_interval'] : []),
      ...(this.searchPathSet ? ['search_path'] : []),
      ...(this.timeoutsApplied ? ['statement_timeout', 'lock_timeout'] : []),
    ];
  }

  settingsWereReset(): void {
    this.checkIntervalSet = false;
    this.searchPathSet = false;
    this.timeoutsApplied = false;
  }

  private async resetSettings(): Promise<void> {
    if (this.behindProxy) return;
    if (this.dialect === 'postgres') {
      // One round trip.
      const reset = this.settingsToReset();
      if (reset.length > 0) await this.queryRunner.query(reset.map((setting) => `RESET ${setting}`).join('; '));
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

/** What connect() learned about a pooled connection made directly to PostgreSQL: the same until it closes. */
interface KnownConnection {
  readonly backendId: number;
  readonly checksClientConnection: boolean;
}
const knownConnections = new WeakMap<object, KnownConnection>();

/**
 * A proxy sits between this process and PostgreSQL when the server sees the connection come from
 * another port than this socket's local port (PgBouncer, Supavisor, RDS Proxy open their own server
 * connections). Over a Unix socket the server sees no port, and neither does the client.
 */
export function seenThroughProxy(localPort: number | undefined, serverSeenPort: number | null): boolean {
  if (localPort === undefined) return serverSeenPort !== null;
  return serverSeenPort === null || Number(serverSeenPort) !== localPort;
}
