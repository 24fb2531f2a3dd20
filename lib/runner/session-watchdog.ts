import { invariant } from '../errors/invariant.error.js';
import type { DataSource } from 'typeorm';
import { driverClients } from '../typeorm/migration-internals.js';

/** How the migration session's connection is watched (option `connectionCheck`). */
export interface ConnectionCheckSettings {
  /** How often a check runs while the session is open, in ms. */
  readonly intervalMs: number;
  /** How long one check may take before the session's connection is declared dead, in ms. */
  readonly timeoutMs: number;
}

/** What a check found out. */
type Verdict = 'alive' | 'gone' | 'timeout' | 'inconclusive';

/** A connection made for one check, outside the DataSource's pool, that can be torn down at any time. */
interface ProbeConnection {
  query(sql: string, id: number): Promise<unknown[]>;
  /** Closes it politely (after an answer). */
  end(): void;
  /** Closes the socket at once (no answer came). */
  destroy(): void;
}

/**
 * Watches the migration session's connection from outside it (PostgreSQL, MySQL/MariaDB): every
 * `intervalMs`, a check on a fresh connection of its own (not from the pool, so a busy pool is no
 * false alarm and a hung check holds nothing) asks whether the session's backend still exists. When
 * no answer comes within `timeoutMs` (the path to the database is dead: partitioned, a NAT entry
 * or a host gone), or the database no longer has the session, `onLost` runs once with the reason.
 *
 * Every touch of the drivers' connection internals (pg `Client` from the pool's options, mysql2
 * `Connection` from the pool's config, the session's socket) lives in this file.
 */
export class SessionWatchdog {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastAnswerAt = Date.now();

  constructor(
    private readonly dataSource: DataSource,
    private readonly dialect: 'postgres' | 'mysql',
    private readonly backendId: number,
    private readonly settings: ConnectionCheckSettings,
    private readonly onLost: (reason: string, sinceLastAnswerMs: number) => void,
  ) {}

  start(): void {
    if (!Number.isFinite(this.backendId)) return;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check(), this.settings.intervalMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    const verdict = await this.probe();
    if (this.stopped) return;
    const { timeoutMs } = this.settings;
    if (verdict === 'timeout') {
      this.stopped = true;
      this.onLost(
        `a check on another connection got no answer within ${timeoutMs} ms (connectionCheck.timeoutMs)`,
        Date.now() - this.lastAnswerAt,
      );
      return;
    }
    if (verdict === 'gone') {
      this.stopped = true;
      this.onLost(
        `the database no longer has its session (${this.dialect === 'postgres' ? 'backend pid' : 'connection id'} ${this.backendId})`,
        Date.now() - this.lastAnswerAt,
      );
      return;
    }
    if (verdict === 'alive') this.lastAnswerAt = Date.now();
    this.schedule();
  }

  /** One check, bounded by `timeoutMs`; its connection is closed whatever happens. */
  private async probe(): Promise<Verdict> {
    let connection: ProbeConnection | undefined;
    try {
      connection = this.connect();
    } catch {
      return 'inconclusive';
    }
    const probe = connection;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.settings.timeoutMs);
    });
    const sql =
      this.dialect === 'postgres'
        ? 'SELECT 1 AS alive FROM pg_stat_activity WHERE pid = $1'
        : 'SELECT 1 AS alive FROM information_schema.PROCESSLIST WHERE ID = ?';
    const answer = probe.query(sql, this.backendId).then(
      (rows): Verdict => (rows.length > 0 ? 'alive' : 'gone'),
      // Refused, too many connections, no privilege: no proof the session is dead; the next check tells.
      (): Verdict => 'inconclusive',
    );
    try {
      const verdict = await Promise.race([answer, timeout]);
      if (verdict === 'timeout') probe.destroy();
      else probe.end();
      return verdict;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A connection with the DataSource's own settings (host, credentials, TLS), outside its pool. */
  private connect(): ProbeConnection {
    const driver = driverClients<PgClient, MysqlConnection>(this.dataSource);
    if (this.dialect === 'postgres') {
      const Client = driver.pg?.Client;
      invariant(Client, "the connection check found no pg Client on the DataSource's driver");
      const client = new Client(driver.pg?.options);
      client.on('error', () => undefined);
      const connected = client.connect();
      return {
        query: async (sql, id) => {
          await connected;
          return (await client.query(sql, [id])).rows;
        },
        end: () => void client.end().catch(() => undefined),
        destroy: () => client.connection?.stream?.destroy(),
      };
    }
    const Connection = driver.mysql?.Connection;
    const config = driver.mysql?.config;
    invariant(Connection && config, "the connection check found no mysql2 pool on the DataSource's driver");
    const connection = new Connection({ config });
    connection.on('error', () => undefined);
    return {
      query: (sql, id) =>
        new Promise((resolve, reject) =>
          connection.query(sql, [id], (error, rows) => (error ? reject(error) : resolve(Array.isArray(rows) ? rows : []))),
        ),
      end: () => connection.end(() => undefined),
      destroy: () => connection.destroy(),
    };
  }
}

interface PgClient {
  connect(): Promise<void>;
  query(sql: string, values: unknown[]): Promise<{ rows: unknown[] }>;
  end(): Promise<void>;
  on(event: 'error', listener: () => void): unknown;
  connection?: { stream?: { destroy(): void } };
}

interface MysqlConnection {
  query(sql: string, values: unknown[], callback: (error: unknown, rows: unknown) => void): void;
  end(callback: () => void): void;
  destroy(): void;
  on(event: 'error', listener: () => void): unknown;
}
