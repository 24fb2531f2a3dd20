import { AsyncLocalStorage } from 'node:async_hooks';
import type { DataSource, QueryRunner } from 'typeorm';
import { LockObserver, type ObservedLock } from '../shadow/observed-locks.js';
import { MysqlStatementProbe, type MysqlStatementAnswer } from '../shadow/mysql-statement-probe.js';
import { serverWideStatement } from '../sql/server-wide-statements.js';
import { databaseErrorCode } from '../../util/error-chain.js';
import { PreviewStoppedError } from '../../errors/preview-stopped.error.js';
import { transactionDepth } from '../../typeorm/migration-internals.js';
import { isMysqlFamily } from '../../history/migrations-table.js';

/** One statement a migration sent to the database. */
export interface PlannedStatement {
  readonly sql: string;
  readonly parameters?: readonly unknown[];
  /**
   * In a shadow (PostgreSQL): the locks the statement took or strengthened there (stronger than
   * ACCESS SHARE) and the relations it rewrote, named as the live database names them.
   */
  readonly locks?: readonly ObservedLock[];
  /** In a MySQL/MariaDB shadow: how the server runs the statement on a live table, and what it changed there. */
  readonly mysql?: MysqlStatementAnswer;
}

/** Where a preview runs besides its own DataSource, and whether it watches its locks (see {@link PreviewTransaction.begin}). */
export interface PreviewSetting {
  /** Other DataSources whose queries from the migration's code go into the preview too (the live one, when it runs on a shadow). */
  readonly alsoRouted?: readonly DataSource[];
  /** Read the session's locks after each statement (PostgreSQL; a shadow, where the extra reads cost the live database nothing). */
  readonly observeLocks?: boolean;
  /** Ask the server how it runs each statement on a live table (MySQL/MariaDB, a shadow with the live schema; see MysqlStatementProbe). */
  readonly probeAlgorithms?: boolean;
  /**
   * The database is thrown away after the preview (a temporary shadow, or an empty one it filled):
   * a migration that opts out of transactions may run there as it would for real, committed
   * (see {@link PreviewTransaction.runCommitted}). The limits are set for the session.
   */
  readonly disposable?: boolean;
  /**
   * What tells a statement that acts on the whole server the shadow shares with the live database,
   * for what commits there (default: PostgreSQL's parser, see serverWideStatement).
   */
  readonly serverWide?: (sql: string) => Promise<string | undefined>;
}

/** How long a dry run may take, and how long one of its statements may wait for a lock. */
export interface PreviewLimits {
  /** The whole preview, in ms: past it, the running statement is cancelled and the plan stops. */
  readonly timeoutMs: number;
  /** A statement waiting longer than this for a lock someone else holds stops the plan (PostgreSQL), in ms. */
  readonly lockTimeoutMs: number;
}

/** Statements that would end (or start) the preview's own transaction: nothing after them could be rolled back. */
const ENDS_TRANSACTION = /(?:^|;)\s*(commit|end|abort|begin|start\s+transaction|rollback(?!\s+(?:work\s+|transaction\s+)?to\b))\b/i;
/** What is quoted, not run: dollar-quoted bodies (a function's `BEGIN … END`) and string literals. */
const QUOTED = /\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\1\$|'(?:[^']|'')*'/g;

/** A routine, trigger or event whose body (MySQL: not quoted) holds `BEGIN … END` of its own. */
const DEFINES_BODY = /^\s*CREATE\b[^;(]*?\b(?:TRIGGER|PROCEDURE|FUNCTION|EVENT)\b/i;

/** Whether `sql` itself ends (or starts) a transaction, outside function bodies and strings. */
function endsTransaction(sql: string): boolean {
  if (DEFINES_BODY.test(sql)) return false;
  return ENDS_TRANSACTION.test(sql.replace(QUOTED, "''"));
}

/** The preview a migration's code runs for: its queries go there, wherever they start from. */
const previewing = new AsyncLocalStorage<PreviewTransaction>();

/** How soon, and how often, a statement still running is checked for sessions blocking it. */
const BLOCKING_CHECK_FIRST_MS = 300;
const BLOCKING_CHECK_EVERY_MS = 1_000;
/** After the deadline cancelled the running statement, how long the migration gets to give up. */
const ABANDON_AFTER_MS = 2_000;

/**
 * The one transaction a dry run runs in, rolled back at its end. Every query a previewed
 * migration makes through its DataSource runs in it and is recorded: the query runner it gets,
 * `queryRunner.connection` / `dataSource.query()`, managers, repositories, query builders and new
 * query runners (`createQueryRunner()` hands out this one, `release()` leaves it open, a nested
 * transaction is a savepoint). The migration's code is told apart by its async context, so the
 * rest of the application keeps its own connections meanwhile. What would end the transaction
 * (`commitTransaction()` at the top level, a `COMMIT` in SQL) stops the plan before it is sent.
 *
 * On PostgreSQL it is bounded: `lock_timeout` and `statement_timeout` hold for the transaction, a
 * deadline cancels the statement in flight, and a statement that waits is checked for the sessions
 * that block it, so that the reason names them.
 */
export class PreviewTransaction {
  private readonly restores: Array<() => void> = [];
  private target: PlannedStatement[] | undefined;
  private abandoned = false;
  private expired = false;
  private backendPid: number | undefined;
  /** MySQL/MariaDB: the session's CONNECTION_ID(), for KILL QUERY at the deadline. */
  private connectionId: number | undefined;
  private blockers: string | undefined;
  private monitor: QueryRunner | undefined;
  private observer: LockObserver | undefined;
  private prober: MysqlStatementProbe | undefined;
  private deadline: NodeJS.Timeout | undefined;
  /** In {@link runCommitted}: the migration's statements are committed as they run. */
  private committing = false;
  /** The migration's own transaction control, passed to TypeORM's: its BEGIN and COMMIT are sent as they are. */
  private forwarding = 0;
  private readonly openConnection: () => QueryRunner;
  /** The query runner's own rollback, kept before it is wrapped. */
  private rollback: () => Promise<void>;

  private constructor(
    private readonly dataSource: DataSource,
    private readonly queryRunner: QueryRunner,
    private readonly limits: PreviewLimits,
    private readonly alsoRouted: readonly DataSource[],
    /** See {@link PreviewSetting.disposable}. */
    readonly disposable: boolean,
    private readonly serverWide: (sql: string) => Promise<string | undefined>,
  ) {
    const createQueryRunner = dataSource.createQueryRunner.bind(dataSource);
    this.openConnection = () => createQueryRunner('master');
    this.rollback = () => queryRunner.rollbackTransaction();
  }

  /**
   * Starts the transaction on `queryRunner`, runs `prepare` in it (settings the session needs for
   * its transaction), applies the limits and routes the DataSource's queries into it, and those of
   * `alsoRouted`: a migration that imports the application's DataSource and queries through it
   * while it runs on a shadow stays in the shadow. With `observeLocks`, each recorded statement
   * carries the locks it took (see LockObserver).
   */
  static async begin(
    dataSource: DataSource,
    queryRunner: QueryRunner,
    limits: PreviewLimits,
    prepare: () => Promise<void>,
    {
      alsoRouted = [],
      observeLocks = false,
      probeAlgorithms = false,
      disposable = false,
      serverWide = serverWideStatement,
    }: PreviewSetting = {},
  ): Promise<PreviewTransaction> {
    const preview = new PreviewTransaction(dataSource, queryRunner, limits, alsoRouted, disposable, serverWide);
    await queryRunner.startTransaction();
    try {
      await prepare();
      if (dataSource.options.type === 'postgres') {
        const rows = (await queryRunner.query(
          `SELECT pg_backend_pid() AS pid, set_config('lock_timeout', $1, $3), set_config('statement_timeout', $2, $3)`,
          // The statement limit backs up the deadline, which cancels first and says why. A disposable
          // database's session is the preview's own: its limits outlast the commits of runCommitted.
          [String(limits.lockTimeoutMs), String(limits.timeoutMs + 1_000), !disposable],
        )) as Array<{ pid: number }>;
        preview.backendPid = Number(rows[0]?.pid);
        // The session's own query, bound before route() wraps it: the observer's reads are not recorded.
        if (observeLocks) preview.observer = await LockObserver.start(queryRunner.query.bind(queryRunner));
      }
      if (isMysqlFamily(dataSource)) {
        const [row] = (await queryRunner.query('SELECT CONNECTION_ID() AS id')) as Array<{ id: number | string }>;
        preview.connectionId = Number(row?.id);
      }
      if (probeAlgorithms) preview.prober = await MysqlStatementProbe.start(queryRunner, queryRunner.query.bind(queryRunner));
    } catch (error) {
      await queryRunner.rollbackTransaction().catch(() => undefined);
      throw error;
    }
    preview.route();
    preview.deadline = setTimeout(() => {
      preview.expired = true;
      void preview.cancelStatement();
    }, limits.timeoutMs);
    preview.deadline.unref();
    return preview;
  }

  /** Statements sent from now on are recorded into a new list, which is returned. */
  recordInto(): PlannedStatement[] {
    this.target = [];
    return this.target;
  }

  /**
   * Runs one migration's `up` in the preview. Rejects with why it stopped; a migration still busy
   * (outside the database) well after the deadline is abandoned: whatever it sends later is refused.
   */
  async run(up: () => Promise<unknown>): Promise<void> {
    if (this.expired) throw this.deadlineError();
    let giveUp: NodeJS.Timeout | undefined;
    const abandon = new Promise<never>((_, reject) => {
      const wait = () => {
        if (!this.expired) {
          giveUp = setTimeout(wait, 100);
          return;
        }
        giveUp = setTimeout(() => {
          this.abandoned = true;
          reject(this.deadlineError());
        }, ABANDON_AFTER_MS);
      };
      giveUp = setTimeout(wait, 100);
    });
    try {
      await Promise.race([previewing.run(this, up), abandon]);
    } catch (error) {
      throw this.explain(error);
    } finally {
      clearTimeout(giveUp);
    }
  }

  /**
   * Runs one migration that opts out of transactions (`transaction = false`) as TypeORM would: the
   * preview's transaction so far is committed, the migration's statements commit one by one (or in
   * the transactions it opens itself), and a new transaction is started for the migrations after it.
   * Only on a disposable database (see {@link PreviewSetting.disposable}). With the locks watched,
   * each statement outside a transaction of the migration's own is sent in one of its own, so that
   * its locks can be read before it commits; one PostgreSQL refuses there (CREATE INDEX
   * CONCURRENTLY, VACUUM) is sent alone. A statement that would act on the whole server (roles,
   * databases, tablespaces, settings: shared with the live database) stops the preview instead.
   */
  async runCommitted(up: () => Promise<unknown>): Promise<void> {
    if (!this.disposable)
      throw new PreviewStoppedError('it opts out of transactions (transaction = false), and this preview cannot commit');
    await this.queryRunner.commitTransaction();
    this.observer?.released();
    this.committing = true;
    try {
      await this.run(up);
    } finally {
      this.committing = false;
      if (this.queryRunner.isTransactionActive) await this.rollback();
      this.observer?.released();
      if (!this.abandoned) await this.queryRunner.startTransaction();
    }
  }

  /**
   * Ends the transaction here, as the real run does between migrations (transaction mode 'each'),
   * and starts the next: the migrations after it take their locks afresh, and each one's are its
   * own. Only on a disposable database; elsewhere the preview stays one transaction.
   */
  async commitBetweenMigrations(): Promise<void> {
    if (!this.disposable || this.abandoned) return;
    await this.queryRunner.commitTransaction();
    this.observer?.released();
    await this.queryRunner.startTransaction();
  }

  /** True when a migration was left running past the deadline: its connection must not be reused. */
  get wasAbandoned(): boolean {
    return this.abandoned;
  }

  /**
   * Rolls the transaction back and hands the DataSource and the query runner back their own
   * methods; after an abandoned migration they stay wrapped, refusing what it still sends.
   */
  async end(): Promise<void> {
    clearTimeout(this.deadline);
    try {
      if (this.queryRunner.isTransactionActive) await this.rollback();
    } finally {
      if (!this.abandoned) for (const restore of this.restores.splice(0).reverse()) restore();
      await this.monitor?.release().catch(() => undefined);
      this.monitor = undefined;
    }
  }

  /** Replaces what the DataSource and the query runner do while the preview is open; {@link end} restores it. */
  private route(): void {
    const queryRunner = this.queryRunner;
    const depth = () => transactionDepth(queryRunner);
    const start = queryRunner.startTransaction.bind(queryRunner);
    const commit = queryRunner.commitTransaction.bind(queryRunner);
    const rollback = queryRunner.rollbackTransaction.bind(queryRunner);
    /** TypeORM's own transaction control, for a migration in runCommitted: its statements go through unrecorded. */
    const forward = async <T>(control: () => Promise<T>): Promise<T> => {
      this.forwarding++;
      try {
        return await control();
      } finally {
        this.forwarding--;
      }
    };
    this.rollback = rollback;
    const release = queryRunner.release.bind(queryRunner);
    const query = queryRunner.query.bind(queryRunner);
    /** True in the previewed migration's code; throws there once it was abandoned. */
    const inPreview = () => {
      if (previewing.getStore() !== this) return false;
      if (this.abandoned) throw new PreviewStoppedError('the dry run has ended; this query was not sent');
      return true;
    };
    for (const dataSource of [this.dataSource, ...this.alsoRouted]) {
      const createQueryRunner = dataSource.createQueryRunner.bind(dataSource);
      this.replace(dataSource, 'createQueryRunner', (mode) => (inPreview() ? queryRunner : createQueryRunner(mode)));
    }
    this.replace(queryRunner, 'release', () => (inPreview() ? Promise.resolve() : release()));
    this.replace(queryRunner, 'startTransaction', async (isolationLevel) => {
      if (inPreview() && this.committing && depth() === 0) return forward(() => start(isolationLevel));
      return start(isolationLevel);
    });
    this.replace(queryRunner, 'commitTransaction', async () => {
      if (inPreview() && this.committing && depth() <= 1) {
        await forward(commit);
        this.observer?.released();
        return;
      }
      if (inPreview() && depth() <= 1)
        throw new PreviewStoppedError('it commits the transaction it runs in (commitTransaction()), which a dry run cannot take back');
      return commit();
    });
    this.replace(queryRunner, 'rollbackTransaction', async () => {
      if (inPreview() && this.committing && depth() <= 1) {
        await forward(rollback);
        this.observer?.released();
        return;
      }
      if (inPreview() && depth() <= 1) {
        throw new PreviewStoppedError(
          'it rolls back the transaction it runs in (rollbackTransaction()), after which its statements would be kept',
        );
      }
      return rollback();
    });
    this.replace(queryRunner, 'query', (async (sql: string, parameters?: unknown[], useStructuredResult?: boolean) => {
      if (!inPreview() || this.forwarding > 0) return query(sql, parameters, useStructuredResult as true);
      if (endsTransaction(sql)) {
        throw new PreviewStoppedError(
          `it sends "${sql.trim().slice(0, 60)}", which ends the transaction it runs in; a dry run cannot take that back`,
        );
      }
      const recorded: { sql: string; parameters?: unknown[]; locks?: ObservedLock[]; mysql?: MysqlStatementAnswer } =
        parameters && parameters.length > 0 ? { sql, parameters } : { sql };
      if (this.committing) {
        const serverWide = await this.serverWide(sql);
        if (serverWide !== undefined) {
          throw new PreviewStoppedError(
            `its statements commit as they run (without a transaction, or MySQL's DDL) and it sends ${serverWide}, ` +
              `which would act on the server the shadow shares with the live database`,
          );
        }
      }
      this.target?.push(recorded);
      // Committed statement by statement: each in a transaction of its own, to read its locks before they are released.
      const alone = this.committing && this.observer !== undefined && !queryRunner.isTransactionActive;
      if (alone) await query('BEGIN');
      const stopWatching = this.watchBlocking();
      let result: unknown;
      try {
        if (this.prober) {
          const sent = await this.prober.send(sql, (text) => query(text, parameters, useStructuredResult as true));
          if (sent.answer) recorded.mysql = sent.answer;
          result = sent.result;
        } else {
          result = await query(sql, parameters, useStructuredResult as true);
        }
      } catch (error) {
        if (!alone) throw error;
        await query('ROLLBACK');
        // 25001: it cannot run inside a transaction block (CREATE INDEX CONCURRENTLY, VACUUM): sent alone, its locks unseen.
        if (databaseErrorCode(error) !== '25001') throw error;
        return await query(sql, parameters, useStructuredResult as true);
      } finally {
        stopWatching();
      }
      if (this.observer && this.target) recorded.locks = await this.observer.next();
      if (alone) {
        await query('COMMIT');
        this.observer?.released();
      }
      return result;
    }) as QueryRunner['query']);
  }

  /** Sets `object[key]` to `value` until {@link end}, which puts back what was there. */
  private replace<T extends object, K extends keyof T>(object: T, key: K, value: T[K]): void {
    const hadOwn = Object.hasOwn(object, key);
    const current = object[key];
    object[key] = value;
    this.restores.push(() => {
      if (hadOwn) object[key] = current;
      else delete object[key];
    });
  }

  /** While a statement runs longer than a moment, notes which sessions block it (PostgreSQL). Returns the stop. */
  private watchBlocking(): () => void {
    if (this.backendPid === undefined) return () => undefined;
    let timer: NodeJS.Timeout | undefined;
    let running = true;
    const check = async () => {
      try {
        this.monitor ??= this.openConnection();
        const rows = (await this.monitor.query(
          `SELECT pid, usename, application_name, state, floor(extract(epoch FROM now() - coalesce(xact_start, query_start)))::int AS seconds
             FROM pg_stat_activity WHERE pid = ANY(pg_blocking_pids($1)) ORDER BY pid`,
          [this.backendPid],
        )) as Array<{ pid: number; usename: string | null; application_name: string | null; state: string | null; seconds: number | null }>;
        if (rows.length > 0) this.blockers = rows.map(describeSession).join('; ');
      } catch {
        // The check is best effort: the statement's own limits still hold.
      }
      if (running) timer = setTimeout(() => void check(), BLOCKING_CHECK_EVERY_MS);
    };
    timer = setTimeout(() => void check(), BLOCKING_CHECK_FIRST_MS);
    return () => {
      running = false;
      clearTimeout(timer);
    };
  }

  /** The deadline passed: cancels the statement in flight (PostgreSQL: pg_cancel_backend; MySQL/MariaDB: KILL QUERY, from another session). */
  private async cancelStatement(): Promise<void> {
    if (this.backendPid === undefined && this.connectionId === undefined) return;
    try {
      this.monitor ??= this.openConnection();
      if (this.backendPid !== undefined) await this.monitor.query('SELECT pg_cancel_backend($1)', [this.backendPid]);
      else await this.monitor.query(`KILL QUERY ${Number(this.connectionId)}`);
    } catch {
      // PostgreSQL: statement_timeout (set to the same deadline) still ends the statement. MySQL: the migration is abandoned after ABANDON_AFTER_MS.
    }
  }

  private deadlineError(): PreviewStoppedError {
    return new PreviewStoppedError(`the dry run's deadline of ${this.limits.timeoutMs} ms ran out in this migration${this.blockedBy()}`);
  }

  /** Why the migration stopped: what it did, or its error with what the preview knows about it. */
  private explain(error: unknown): unknown {
    if (error instanceof PreviewStoppedError) return error;
    const code = databaseErrorCode(error);
    const message = error instanceof Error ? error.message : String(error);
    if (code === '55P03') {
      return new PreviewStoppedError(
        `${message}: waited longer than the dry run's lock timeout of ${this.limits.lockTimeoutMs} ms${this.blockedBy()}`,
        { cause: error },
      );
    }
    // 57014: PostgreSQL's cancel; 1317 (ER_QUERY_INTERRUPTED): MySQL's KILL QUERY.
    if ((code === '57014' || code === 1317 || code === 'ER_QUERY_INTERRUPTED') && this.expired)
      return new PreviewStoppedError(`${message}: ${this.deadlineError().message}`, { cause: error });
    return error;
  }

  private blockedBy(): string {
    return this.blockers ? `; blocked by ${this.blockers}` : '';
  }
}

function describeSession(row: {
  pid: number;
  usename: string | null;
  application_name: string | null;
  state: string | null;
  seconds: number | null;
}): string {
  const parts = [
    row.application_name ? `application "${row.application_name}"` : undefined,
    row.usename ? `user "${row.usename}"` : undefined,
    row.state ? `${row.state}${row.seconds !== null ? ` for ${row.seconds} s` : ''}` : undefined,
  ].filter(Boolean);
  return `PostgreSQL session pid ${row.pid}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}
