import type { Logger } from '@nestjs/common';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { DEFAULT_CONNECTION_CHECK_TIMEOUT_MS } from '../auto-migrator.constants.js';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { AutoMigratorError } from '../errors/auto-migrator.error.js';
import { MigrationDirtyError } from '../errors/migration-dirty.error.js';
import { MigrationFailedError } from '../errors/migration-failed.error.js';
import { MigrationHistoryError } from '../errors/migration-history.error.js';
import { MigrationInterruptedError } from '../errors/migration-interrupted.error.js';
import { MigrationLockTimeoutError } from '../errors/migration-lock-timeout.error.js';
import type { MigrationEvent } from '../events/migration-events.js';
import type { EventSource } from '../events/migration-log.js';
import {
  compareWithBuild,
  missingSqliteFile,
  readMigrationStatus,
  readRecordedNames,
  type MigrationStatusReport,
} from '../history/migration-status.js';
import { declaredTransaction, loadMigrationsUnconnected } from '../typeorm/migration-internals.js';
import { judgeHistory } from '../history/history-policy.js';
import { migrationsTableName, tableExists } from '../history/migrations-table.js';
import { commitsDdlImplicitly, StartedMarkers } from '../history/started-migrations.js';
import type { StartedMigration } from '../contracts/migration-records.js';
import { acquireMigrationLock, LockNotTaken, type LockAcquisition } from '../lock/acquire-lock.js';
import type { LockCondition } from '../contracts/lock-contract.js';
import type { MigrationLock } from '../lock/migration-lock.js';
import { buildMigrations, timestampOf } from '../plan/build-migrations.js';
import { checkMigrations, type DataSourcePlan } from '../plan/migration-plan.js';
import type { MigrationRunResult, MigrationStrategy, RetryReport } from '../contracts/migration-strategy.js';
import type { PendingMigration } from '../contracts/migration-records.js';
import { describeCauses } from '../util/error-chain.js';
import { ms, plural } from '../util/quantities.js';
import type { SecretRedactor } from '../util/secret-redactor.js';
import { describeFailure, hostOf, interruptionText, whatWasKept } from './failure-text.js';
import { MigrationSession } from './migration-session.js';
import { ObservedMigrationExecutor } from '../typeorm/observed-migration-executor.js';
import type { RunControl } from './run-control.js';
import { StrategyRun } from './strategy-run.js';

/** What every runner of one application shares. */
export interface RunnerEnvironment {
  readonly logger: Logger;
  readonly redactor: SecretRedactor;
  readonly control: RunControl;
  /** Reports what happened (`from`: the plan it is about): the state, the log's progress lines and `events$` follow from it. */
  readonly emit: (event: MigrationEvent, from?: EventSource) => void;
}

/** Runs before each migration, inside its transaction: throws when it must not run. */
export type MigrationGuard = (migration: string, recordStart?: StartRecorder) => Promise<void>;

/**
 * Records that a migration starts (see StartedMarkers), carrying `lockHeld` when given: resolves
 * false when that condition did not hold and nothing was written.
 */
export type StartRecorder = (lockHeld: LockCondition | undefined) => Promise<boolean>;

/** How a failure ends the attempt: its error (the message names the DataSource), and what readiness shows of it. */
interface Failure<E extends Error> {
  readonly error: E;
  readonly migration?: string;
  readonly applied?: readonly string[];
  readonly mayBePartiallyApplied?: boolean;
  readonly dirty?: StartedMigration;
  /** The log line: `error` (default), `warn` (an interruption), with the stack for a failure not ours. */
  readonly level?: 'error' | 'warn';
  readonly line?: string;
  readonly stack?: string;
}

/**
 * Migrates one DataSource: reads what is pending, hands it to the strategy, applies migrations
 * with TypeORM's MigrationExecutor on a dedicated session under the migration lock. What happens
 * is reported as events (see RunnerEnvironment.emit), a failure also by one log line where it is
 * described; nothing else is written.
 */
export class DataSourceMigrationRunner {
  readonly name: string;
  readonly logger: Logger;
  readonly redactor: SecretRedactor;
  /** What the last execute() applied and kept: what `data-source-done` reports. */
  private applied: readonly string[] = [];
  /** A session holding the lock, taken before the strategy ran (see migrate's `deferIfLocked`): the first run uses it. */
  private claimed: { readonly session: MigrationSession | undefined; readonly lock: MigrationLock } | undefined;

  constructor(
    readonly plan: DataSourcePlan,
    private readonly env: RunnerEnvironment,
  ) {
    this.name = plan.name;
    this.logger = env.logger;
    this.redactor = env.redactor;
  }

  /** Per-migration lines: `log` for a DataSource, `debug` for each of possibly thousands of tenants. */
  private detail(message: string): void {
    if (this.plan.tenant) this.logger.debug(message);
    else this.logger.log(message);
  }

  /**
   * What the migrations table says, against this build's migrations. Read-only: creates no table,
   * and no SQLite database file (a missing one means nothing applied; it is not connected to).
   */
  async readStatus(): Promise<MigrationStatusReport> {
    const missingFile = missingSqliteFile(this.plan.dataSource);
    if (missingFile !== undefined) {
      const migrations = await loadMigrationsUnconnected(this.plan.dataSource);
      this.checkMigrationsOf(migrations);
      return { ...compareWithBuild(buildMigrations(migrations, this.plan.label), []), missingDatabaseFile: missingFile };
    }
    await this.ensureInitialized();
    return readMigrationStatus(this.plan.dataSource);
  }

  /** Migrations not yet recorded in the migrations table. Read-only: creates no table. */
  async readPending(): Promise<PendingMigration[]> {
    return [...(await this.readStatus()).pending];
  }

  /**
   * Runs the strategy for this DataSource when anything is pending. Resolves when the DataSource
   * is done or marked failed; rejects with the strategy's error (state `failed`) when it throws.
   * A DataSource that cannot be reached yet goes to the strategy too (RetryStrategy retries it).
   *
   * With `deferIfLocked` (tenants shared by replicas), pending migrations whose lock another
   * process holds are left to it: resolves false at once, with nothing reported; the lock, when it
   * is free, is taken before the strategy runs and kept for its first run.
   */
  async migrate(strategy: MigrationStrategy, options: { readonly deferIfLocked?: boolean } = {}): Promise<boolean> {
    const startedAt = Date.now();
    const done = (status: 'done' | 'failed', applied: readonly string[], error?: string) =>
      this.report({
        type: 'data-source-done',
        dataSource: this.name,
        status,
        applied,
        durationMs: Date.now() - startedAt,
        ...(error ? { error } : {}),
      });
    let pending: PendingMigration[] | undefined;
    try {
      const status = await this.readStatus();
      this.checkHistory(status);
      pending = [...status.pending];
    } catch (error) {
      if (error instanceof MigrationHistoryError) throw error;
      if (error instanceof AutoMigratorConfigError) throw this.fail({ error });
      // Unreachable database: the strategy decides (run, retry, continue); runMigrations() reads again.
      this.redactor.scrub(error);
      this.logger.warn(`${this.plan.label}: could not read its migrations table (${this.describe(error)})`);
    }
    if (pending?.length === 0) {
      this.detail(`${this.plan.label}: no pending migrations`);
      done('done', []);
      return true;
    }
    if (options.deferIfLocked && pending && this.plan.lock && (await this.claim()) === 'held elsewhere') {
      this.detail(`${this.plan.label}: another process is migrating it; coming back to it at the end`);
      return false;
    }
    try {
      await this.runStrategy(strategy, pending, startedAt, done);
    } finally {
      await this.releaseClaim();
    }
    return true;
  }

  private async runStrategy(
    strategy: MigrationStrategy,
    pending: PendingMigration[] | undefined,
    startedAt: number,
    done: (status: 'done' | 'failed', applied: readonly string[], error?: string) => void,
  ): Promise<void> {
    this.report({ type: 'run-started', dataSource: this.name, pending: (pending ?? []).map((migration) => migration.name) });

    const run = new StrategyRun(this, pending ?? [], this.env.control);
    const applied = () => this.applied;
    try {
      await strategy.migrate(run.context);
      // A strategy that caught the interruption and returned: the run still ends interrupted.
      if (run.interruption) throw run.interruption;
    } catch (thrown) {
      const error = this.env.control.stopped ? run.interrupted(thrown) : thrown;
      if (error instanceof AutoMigratorError) {
        done('failed', applied());
      } else {
        // A failure of the strategy's own: its stack is printed here, once.
        this.redactor.scrub(error);
        const message = `${this.plan.label}: ${strategy.constructor.name} threw: ${this.describe(error)}`;
        this.logger.error(message, error instanceof Error ? error.stack : undefined);
        done('failed', applied(), message);
      }
      throw error;
    }
    if (run.markedFailed) {
      const { error } = run.markedFailed;
      this.redactor.scrub(error);
      this.logger.error(`${this.plan.label}: marked failed by ${strategy.constructor.name} after ${ms(Date.now() - startedAt)}`);
      done('failed', applied(), error instanceof AutoMigratorError ? error.message : `${this.plan.label}: ${this.describe(error)}`);
    } else if (run.outcome === 'succeeded') {
      done('done', applied());
    } else {
      const error =
        run.outcome === 'failed'
          ? this.redactor.message(run.lastError)
          : `${this.plan.label}: ${strategy.constructor.name} returned without applying the ${plural(run.pending.length, 'pending migration')}`;
      this.logger.error(`${error} (reported as failed)`);
      done('failed', applied(), error);
    }
    if (this.env.control.stopped) throw this.interrupted(undefined, 0);
  }

  /** What a strategy's context is made of (see StrategyRun). */
  get context() {
    return {
      dataSourceName: this.plan.tenant?.parent ?? this.name,
      label: this.plan.label,
      tenant: this.plan.tenant?.name,
      dataSource: this.plan.dataSource,
      logger: this.logger,
    };
  }

  /**
   * Applies pending migrations (after dropping every table when `fromScratch`) on the migration
   * session, holding the migration lock; what is pending is read again under the lock.
   */
  async execute(fromScratch: boolean, knownPending?: readonly PendingMigration[]): Promise<MigrationRunResult> {
    const runStart = performance.now();
    this.throwIfStopped();
    const nothingPending = await this.connecting(async () => {
      if (fromScratch || knownPending !== undefined) {
        await this.ensureInitialized();
        return false;
      }
      return (await this.readPending()).length === 0;
    });
    // Fast path: nothing pending, no session, no lock.
    if (nothingPending) return this.nothingLeft(runStart, 'no pending migrations');
    // What is pending is read again on the session, under the lock, by the executor itself.
    return this.withSession((queryRunner, beforeMigration) => this.executeInSession(fromScratch, queryRunner, beforeMigration, runStart));
  }

  /**
   * Runs `work`, which needs the database to answer; a failure becomes a MigrationFailedError that
   * names the DataSource and its host (the original, e.g. ECONNREFUSED, stays its `cause`, so
   * RetryStrategy still sees a connection error).
   */
  private async connecting<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      this.redactor.scrub(error);
      const message = `${this.plan.label}: could not reach the database: ${this.describe(error)}`;
      throw this.fail({ error: this.failedError(message, undefined, [], error), line: '' });
    }
  }

  /**
   * Runs `work` on the migration session (a dedicated connection with the timeouts applied; on
   * SQLite, TypeORM's one shared connection), holding the plan's migration lock. Releases both
   * whatever happens; a connection whose lock could not be released is closed rather than
   * returned to the pool. With `noWait` (the operation's name), a lock held elsewhere is not waited
   * for: a {@link MigrationLockTimeoutError} naming its holder, and the state is not touched.
   */
  async withSession<T>(
    work: (queryRunner: QueryRunner, beforeMigration: MigrationGuard) => Promise<T>,
    options: { noWait?: string } = {},
  ): Promise<T> {
    const claimed = this.claimed;
    this.claimed = undefined;
    const session = claimed ? claimed.session : await this.openSession();
    let destroy = false;
    try {
      const lock = claimed ? claimed.lock : await this.acquireLock(session, options.noWait);
      try {
        await session?.applyTimeouts(this.plan.timeouts);
        if (this.plan.tenant) {
          if (!session) throw new Error(`${this.plan.label}: tenant migrations need a PostgreSQL session`);
          await session.useSchema(this.plan.tenant.name, this.plan.tenant.createSchema);
        }
        this.env.control.setCanceller(session ? () => session.cancelStatement() : undefined);
        const beforeMigration = this.guard(lock, session);
        if (session) return await work(session.queryRunner, beforeMigration);
        const shared = this.plan.dataSource.createQueryRunner();
        try {
          return await work(shared, beforeMigration);
        } finally {
          await shared.release();
        }
      } finally {
        this.env.control.setCanceller(undefined);
        await lock?.release().catch((error: unknown) => {
          destroy = true;
          this.logger.error(
            `${this.plan.label}: releasing ${lock.description} failed (${this.redactor.message(error)}); closing its connection, which releases a lock held by it`,
          );
        });
      }
    } finally {
      await session?.close(destroy);
    }
  }

  /**
   * Before each migration: the lock is still ours (asked again unless this connection is the
   * server session itself, which holds it until it ends), and the session's settings hold for its
   * transaction. A migration recorded as started carries the lock check in that statement where it can.
   */
  private guard(lock: MigrationLock | undefined, session: MigrationSession | undefined): MigrationGuard {
    const verifyEach = lock !== undefined && !(lock.heldBySession && session?.isServerSession);
    return async (migration, recordStart) => {
      const carried = verifyEach && recordStart ? lock.heldCondition : undefined;
      if (verifyEach && !carried) await lock.verify();
      await session?.prepareTransaction(migration);
      if (recordStart && !(await recordStart(carried))) {
        await lock!.verify();
        throw new Error(`${this.plan.label}: "${migration}" could not be recorded as started`);
      }
    };
  }

  /** Logs, or fails on, a pending migration older than the newest applied one and an applied one this build lacks. */
  checkHistory(status: MigrationStatusReport): void {
    const { warnings, error } = judgeHistory(status, this.plan.history, this.plan.label, this.name);
    for (const warning of warnings) this.logger.warn(warning);
    if (error) throw this.fail({ error });
  }

  /** Records that the strategy will try again after `delayMs` (readiness: `retrying`). */
  reportRetry(report: RetryReport): void {
    const error = this.describe(this.redactor.scrub(report.error));
    this.report({
      type: 'retrying',
      dataSource: this.name,
      attempt: report.attempt,
      attempts: report.attempts,
      delayMs: report.delayMs,
      error,
    });
  }

  private async executeInSession(
    fromScratch: boolean,
    queryRunner: QueryRunner,
    beforeMigration: MigrationGuard,
    runStart: number,
  ): Promise<MigrationRunResult> {
    if (fromScratch) {
      this.logger.warn(`${this.plan.label}: dropping every table before migrating from scratch`);
      await this.plan.dataSource.dropDatabase();
    }
    const applied: string[] = [];
    this.applied = applied;
    let total = 0;
    let current: { name: string; startedAt: number } | undefined;
    const markers = new StartedMarkers(this.plan.dataSource, queryRunner);
    /** The migration the run's marker row names now (one row, moved from migration to migration). */
    let marked: string | undefined;

    const executor = new ObservedMigrationExecutor(
      this.plan.dataSource,
      queryRunner,
      {
        migrationsTableExists: (runner) => tableExists(this.plan.dataSource, runner, migrationsTableName(this.plan.dataSource)),
        // The only read under the lock: one plain SELECT, and what it leaves pending.
        recorded: async (runner) => {
          const recorded = await readRecordedNames(this.plan.dataSource, runner);
          total = compareWithBuild(buildMigrations(this.plan.dataSource.migrations, this.plan.label), recorded).pending.length;
          if (total > 0) {
            // Before anything runs: a migration an earlier run started and never finished stops it.
            // Without the lock (lock: false) another run's markers are not ours to clear: it may hold them.
            await markers.assertNoneUnfinished(recorded, this.plan.label, this.name, { clearFinished: this.plan.lock !== undefined });
            if (this.mayNeedMarkers()) await markers.ensureTable();
          }
          return recorded.map((name) => ({ name, timestamp: timestampOf(name) }));
        },
        started: async (name) => {
          // Stop between migrations: throwing here, before up(), rolls back only the empty transaction.
          if (this.env.control.stopped) throw this.interrupted(undefined, applied.length);
          current = { name, startedAt: performance.now() };
          // Where the migration and its record cannot be atomic, it is recorded as started first. In
          // its transaction, if it has one: committed exactly when anything of it is (MySQL commits
          // before its first DDL), rolled back with it otherwise. One statement per migration: the
          // row moves on from the previous migration, which its record in the migrations table
          // already says finished.
          if (commitsDdlImplicitly(this.plan.dataSource) || !queryRunner.isTransactionActive) {
            await beforeMigration(name, async (lockHeld) => {
              const written = await markers.record(marked, name, this.plan.transaction, lockHeld);
              if (written) marked = name;
              return written;
            });
          } else {
            await beforeMigration(name);
          }
          this.report({ type: 'migration-started', dataSource: this.name, migration: name, index: applied.length + 1, total });
        },
        applied: (name) => {
          applied.push(name);
          const durationMs = current ? Math.round(performance.now() - current.startedAt) : 0;
          current = undefined;
          this.report({ type: 'migration-finished', dataSource: this.name, migration: name, durationMs, index: applied.length, total });
        },
      },
      (text) => this.redactor.redact(text),
    );
    executor.transaction = this.plan.transaction;

    try {
      await executor.executePendingMigrations();
    } catch (error) {
      if (error instanceof MigrationInterruptedError) throw error;
      if (error instanceof MigrationDirtyError) {
        const first = error.started[0]!;
        throw this.fail({ error, migration: first.name, dirty: first, mayBePartiallyApplied: true });
      }
      // A marker that outlived the rollback: the migration committed part of its work.
      const left = current && marked === current.name ? await markers.find(current.name) : undefined;
      if (this.env.control.stopped) throw this.interrupted(current?.name, applied.length, error, left);
      throw this.runFailed(
        MigrationSession.connectionLost(queryRunner, this.name, hostOf(this.plan), error) ?? error,
        current?.name,
        applied,
        left,
      );
    }
    if (total === 0) return this.nothingLeft(runStart, 'no pending migrations left; another process applied them');
    // Every migration of the run is recorded: the marker (naming the last one) has nothing left to say.
    if (marked !== undefined) await markers.remove(marked);
    const durationMs = Math.round(performance.now() - runStart);
    this.logger.log(`${this.plan.label}: ${plural(applied.length, 'migration')} applied in ${ms(durationMs)}`);
    return { applied, durationMs };
  }

  /**
   * Whether a migration of this run may be recorded as started: where DDL commits implicitly, or
   * where a migration runs without a transaction. Elsewhere no marker table is created.
   */
  private mayNeedMarkers(): boolean {
    return (
      commitsDdlImplicitly(this.plan.dataSource) ||
      this.plan.transaction === 'none' ||
      this.plan.dataSource.migrations.some((migration) => declaredTransaction(migration) === false)
    );
  }

  private nothingLeft(runStart: number, why: string): MigrationRunResult {
    this.detail(`${this.plan.label}: ${why}`);
    return { applied: [], durationMs: Math.round(performance.now() - runStart) };
  }

  /**
   * Takes the plan's migration lock, waiting up to its timeout and telling who holds it (state
   * `waiting-for-lock` meanwhile). Undefined when the plan has no lock.
   */
  private async acquireLock(session: MigrationSession | undefined, noWait?: string): Promise<MigrationLock | undefined> {
    if (!this.plan.lock) return undefined;
    try {
      return await acquireMigrationLock(session, this.lockRequest(), noWait);
    } catch (error) {
      // An operation that does not wait leaves the state alone: the lock is some run's, not a failure.
      if (error instanceof MigrationLockTimeoutError) throw noWait !== undefined ? error : this.fail({ error });
      if (!(error instanceof LockNotTaken)) throw error;
      if (error.cause instanceof MigrationInterruptedError) throw error.cause;
      this.redactor.scrub(error.cause);
      const message = `${this.plan.label}: could not take ${error.lock}: ${this.describe(error.cause)}`;
      const failure = this.failedError(message, undefined, [], error.cause);
      throw this.fail({ error: failure, stack: failure.stack });
    }
  }

  private lockRequest(): LockAcquisition {
    const lock = this.plan.lock!;
    return {
      ...lock,
      dataSource: this.plan.dataSource,
      label: this.plan.label,
      name: this.name,
      connection: { answerWithinMs: this.plan.connectionCheck?.timeoutMs ?? DEFAULT_CONNECTION_CHECK_TIMEOUT_MS },
      throwIfStopped: () => this.throwIfStopped(),
      waiting: (taken, holder, waitedMs) =>
        this.report({
          type: 'lock-waiting',
          dataSource: this.name,
          holder,
          waitedMs,
          lock: taken.description,
          timeoutMs: lock.settings.timeoutMs,
        }),
      acquired: (taken, waitedMs) => this.report({ type: 'lock-acquired', dataSource: this.name, waitedMs, lock: taken.description }),
    };
  }

  private openSession(): Promise<MigrationSession | undefined> {
    return this.connecting(async () => {
      await this.ensureInitialized();
      return MigrationSession.open(this.plan.dataSource, this.plan.connectionCheck);
    });
  }

  /**
   * Takes the lock without waiting, on a session kept for the strategy's first run. 'held
   * elsewhere' when another process holds it; anything going wrong here is left for the
   * strategy's run to meet (and report) again.
   */
  private async claim(): Promise<'claimed' | 'held elsewhere' | 'not claimed'> {
    let session: MigrationSession | undefined;
    try {
      await this.ensureInitialized();
      session = await MigrationSession.open(this.plan.dataSource, this.plan.connectionCheck);
      this.claimed = { session, lock: await acquireMigrationLock(session, this.lockRequest(), 'a replica sharing the tenants') };
      return 'claimed';
    } catch (error) {
      await session?.close(false);
      return error instanceof MigrationLockTimeoutError ? 'held elsewhere' : 'not claimed';
    }
  }

  /** A claim the strategy did not use (it returned or threw before running): let go of it. */
  private async releaseClaim(): Promise<void> {
    const claimed = this.claimed;
    this.claimed = undefined;
    if (!claimed) return;
    const released = await claimed.lock.release().then(
      () => true,
      () => false,
    );
    await claimed.session?.close(!released);
  }

  private async ensureInitialized(): Promise<void> {
    if (!this.plan.dataSource.isInitialized) await this.plan.dataSource.initialize();
    // Initialized late (manualInitialization), its migrations are known only now. Checked on every
    // call (cached), so that none found keeps failing rather than passing once initialized.
    this.checkMigrationsOf(this.plan.dataSource.migrations);
  }

  private checkMigrationsOf(migrations: readonly MigrationInterface[]): void {
    checkMigrations(
      this.plan.dataSource,
      this.plan.tenant?.parent ?? this.plan.name,
      this.plan.label,
      this.plan.allowNoMigrations,
      migrations,
    );
  }

  /** The run was stopped (shutdown) and `cause` is what stopped the strategy: recorded as the interruption. */
  interruptedBy(cause: unknown): MigrationInterruptedError {
    return this.interrupted(undefined, 0, cause);
  }

  private throwIfStopped(): void {
    if (this.env.control.stopped) throw this.interrupted(undefined, 0);
  }

  private interrupted(
    migration: string | undefined,
    appliedBefore: number,
    cause?: unknown,
    left?: StartedMigration,
  ): MigrationInterruptedError {
    const reason = this.env.control.reason ?? 'shutdown';
    if (cause !== undefined) this.redactor.scrub(cause);
    const error = new MigrationInterruptedError(
      interruptionText(this.plan, reason, migration, appliedBefore, left !== undefined),
      this.name,
      reason,
      cause === undefined ? undefined : { cause },
    );
    return this.fail({
      error,
      migration,
      mayBePartiallyApplied: (this.plan.transaction === 'none' && migration !== undefined) || left !== undefined,
      dirty: left,
      level: 'warn',
    });
  }

  private runFailed(
    error: unknown,
    migration: string | undefined,
    applied: readonly string[],
    left?: StartedMigration,
  ): MigrationFailedError {
    this.redactor.scrub(error);
    const where = migration ? `migration "${migration}" failed` : 'migrations failed';
    const kept = whatWasKept(this.plan, applied.length, left ? migration : undefined);
    const keptApplied = kept.rolledBackAll ? [] : [...applied];
    this.applied = keptApplied;
    const failure = new MigrationFailedError(
      `${this.plan.label}: ${where}: ${this.describe(error)}. ${kept.text}`,
      this.name,
      migration,
      keptApplied,
      this.plan.transaction,
      {
        cause: error,
      },
    );
    // One line with the cause chain; the stack is printed once, by whoever receives the rethrown error.
    const causes = describeCauses(failure);
    return this.fail({
      error: failure,
      migration,
      applied: keptApplied,
      mayBePartiallyApplied: (this.plan.transaction === 'none' && migration !== undefined) || left !== undefined,
      dirty: left,
      line: causes ? `${failure.message} (${causes})` : failure.message,
    });
  }

  private failedError(message: string, migration: string | undefined, applied: readonly string[], cause: unknown): MigrationFailedError {
    return new MigrationFailedError(message, this.name, migration, applied, this.plan.transaction, { cause });
  }

  /**
   * The one way a failure is reported: its log line (`line: ''` for none: a connection failure the
   * strategy may retry is logged by the strategy) and a `migration-failed` event, from which
   * the state (`failed`, with what the failure says) follows. Returns the error to throw.
   */
  private fail<E extends Error>(failure: Failure<E>): E {
    const { error } = failure;
    const line = failure.line ?? error.message;
    if (line !== '') {
      if (failure.level === 'warn') this.logger.warn(line);
      else this.logger.error(line, failure.stack);
    }
    this.report({
      type: 'migration-failed',
      dataSource: this.name,
      migration: failure.migration,
      error: error.message,
      ...(failure.applied ? { applied: failure.applied } : {}),
      ...(failure.mayBePartiallyApplied ? { mayBePartiallyApplied: true } : {}),
      ...(failure.dirty ? { dirty: failure.dirty } : {}),
    });
    return error;
  }

  /** Every event goes out with this plan as its source (for the log's label and level). */
  private report(event: MigrationEvent): void {
    this.env.emit(event, this.plan);
  }

  describe(error: unknown): string {
    return describeFailure(this.plan, this.redactor, error, this.env.control.stopped);
  }
}
