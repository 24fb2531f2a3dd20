import type { Logger } from '@nestjs/common';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { DEFAULT_CONNECTION_CHECK_TIMEOUT_MS } from '../auto-migrator.constants.js';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { MigrationDirtyError } from '../errors/migration-dirty.error.js';
import { MigrationFailedError } from '../errors/migration-failed.error.js';
import { MigrationHistoryError } from '../errors/migration-history.error.js';
import { MigrationInterruptedError } from '../errors/migration-interrupted.error.js';
import { MigrationLockTimeoutError } from '../errors/migration-lock-timeout.error.js';
import type { MigrationEvent } from '../events/migration-events.js';
import { createMigrationLock } from '../lock/create-migration-lock.js';
import type { LockCondition, MigrationLock } from '../lock/migration-lock.js';
import { compareWithBuild, loadMigrationsUnconnected, missingSqliteFile, readMigrationStatus, type MigrationStatusReport } from '../history/migration-status.js';
import { buildMigrations } from '../plan/build-migrations.js';
import { commitsDdlImplicitly, StartedMarkers, unfinishedAdvice, type StartedMigration } from '../history/started-migrations.js';
import { checkMigrations, type DataSourcePlan } from '../plan/migration-plan.js';
import type { MigrationStateStore } from '../state/migration-state.js';
import type {
  MigrationContext,
  MigrationRunResult,
  MigrationStrategy,
  PendingMigration,
  RetryReport,
} from '../strategies/migration-strategy.js';
import { databaseErrorCode, describeCauses } from '../util/error-chain.js';
import { listNames } from '../util/name-list.js';
import type { SecretRedactor } from '../util/secret-redactor.js';
import { MigrationSession } from './migration-session.js';
import { ObservedMigrationExecutor } from './observed-migration-executor.js';
import type { RunControl } from './run-control.js';

/** What every runner of one application shares. */
export interface RunnerEnvironment {
  readonly state: MigrationStateStore;
  readonly logger: Logger;
  readonly redactor: SecretRedactor;
  readonly control: RunControl;
  readonly emit: (event: MigrationEvent) => void;
}

/** Runs before each migration, inside its transaction: throws when it must not run. */
export type MigrationGuard = (migration: string, recordStart?: StartRecorder) => Promise<void>;

/**
 * Records that a migration starts (see StartedMarkers), carrying `lockHeld` when given: resolves
 * false when that condition did not hold and nothing was written.
 */
export type StartRecorder = (lockHeld: LockCondition | undefined) => Promise<boolean>;

/** With connectionCheck off: how long the lock's own connection may take to answer (connectionCheck.timeoutMs's default). */
const DEFAULT_ANSWER_WITHIN_MS = DEFAULT_CONNECTION_CHECK_TIMEOUT_MS;

/** The longest one wait for the migration lock lasts before the stop flag is looked at again. */
const LOCK_WAIT_SLICE_MS = 1_000;

type RunOutcome = 'none' | 'succeeded' | 'failed';

/**
 * Migrates one DataSource: reads what is pending, hands it to the strategy, applies migrations
 * with TypeORM's MigrationExecutor on a dedicated session under the migration lock, and keeps the
 * DataSource's state, logs and events current.
 */
export class DataSourceMigrationRunner {
  readonly name: string;
  readonly logger: Logger;
  private readonly state: MigrationStateStore;
  readonly redactor: SecretRedactor;

  constructor(
    readonly plan: DataSourcePlan,
    private readonly env: RunnerEnvironment,
  ) {
    this.name = plan.name;
    this.logger = env.logger;
    this.state = env.state;
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
   */
  async migrate(strategy: MigrationStrategy): Promise<void> {
    const startedAt = new Date();
    let pending: PendingMigration[] | undefined;
    try {
      const status = await this.readStatus();
      this.checkHistory(status);
      pending = [...status.pending];
    } catch (error) {
      if (error instanceof MigrationHistoryError) throw error;
      if (error instanceof AutoMigratorConfigError) {
        this.state.update(this.name, { status: 'failed', error: error.message, finishedAt: new Date() });
        this.logger.error(error.message);
        throw error;
      }
      // Unreachable database: the strategy decides (run, retry, continue); runMigrations() reads again.
      this.redactor.scrub(error);
      this.logger.warn(`${this.plan.label}: could not read its migrations table (${this.describeFailure(error)})`);
    }
    if (pending?.length === 0) {
      this.state.update(this.name, { status: 'done', pending: 0, startedAt, finishedAt: new Date() });
      this.detail(`${this.plan.label}: no pending migrations`);
      this.env.emit({ type: 'data-source-done', dataSource: this.name, status: 'done', applied: [], durationMs: Date.now() - startedAt.getTime() });
      return;
    }
    this.state.update(this.name, { status: 'pending', pending: pending?.length ?? 0, startedAt });
    if (pending) {
      this.detail(
        `${this.plan.label}: ${plural(pending.length, 'pending migration')} (transaction mode '${this.plan.transaction}'): ${listNames(pending.map((migration) => migration.name))}`,
      );
    }
    this.env.emit({ type: 'run-started', dataSource: this.name, pending: (pending ?? []).map((migration) => migration.name) });

    const run = new StrategyRun(this, pending ?? [], this.env.control);
    try {
      await strategy.migrate(run.context);
      // A strategy that caught the interruption and returned: the run still ends interrupted.
      if (run.interruption) throw run.interruption;
    } catch (error) {
      throw this.strategyThrew(this.env.control.stopped ? run.interrupted(error) : error, strategy, startedAt);
    }
    this.strategyReturned(run, strategy, startedAt);
    if (this.env.control.stopped) throw this.interrupted(undefined, []);
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
      const failure = new MigrationFailedError(
        `${this.plan.label}: could not reach the database: ${this.describeFailure(error)}`,
        this.name,
        undefined,
        [],
        this.plan.transaction,
        { cause: error },
      );
      this.state.update(this.name, { status: 'failed', error: failure.message, finishedAt: new Date() });
      throw failure;
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
    const session = await this.connecting(async () => {
      await this.ensureInitialized();
      return MigrationSession.open(this.plan.dataSource, this.plan.connectionCheck);
    });
    let destroy = false;
    try {
      const lock = await this.acquireLock(session, options.noWait);
      try {
        await session?.applyTimeouts(this.plan.timeouts);
        if (this.plan.tenant) {
          if (!session) throw new Error(`${this.plan.label}: tenant migrations need a PostgreSQL session`);
          await session.useSchema(this.plan.tenant.name, this.plan.tenant.createSchema);
        }
        this.env.control.setCanceller(session ? () => session.cancelStatement() : undefined);
        // Before each migration: the lock is still ours (asked again unless this connection is the
        // server session itself, which holds it until it ends), and the session's settings hold for
        // its transaction.
        const verifyEach = lock !== undefined && !(lock.heldBySession && session?.isServerSession);
        // A migration recorded as started carries the lock check in that statement where it can.
        const beforeMigration: MigrationGuard = async (migration, recordStart) => {
          const carried = verifyEach && recordStart ? lock.heldCondition : undefined;
          if (verifyEach && !carried) await lock.verify();
          await session?.prepareTransaction(migration);
          if (recordStart && !(await recordStart(carried))) {
            await lock!.verify();
            throw new Error(`${this.plan.label}: "${migration}" could not be recorded as started`);
          }
        };
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

  /** Logs, or fails on, a pending migration older than the newest applied one and an applied one this build lacks. */
  checkHistory(status: MigrationStatusReport): void {
    const { outOfOrder: outOfOrderPolicy, unknownMigrations: unknownPolicy } = this.plan.history;
    const outOfOrder = status.outOfOrder.map((migration) => migration.name);
    const unknown = status.unknown.map((migration) => migration.name);
    const problems: string[] = [];
    if (outOfOrder.length > 0) {
      const text = `pending but older than the newest applied migration (out of order): ${listNames(outOfOrder)}`;
      if (outOfOrderPolicy === 'fail') problems.push(text);
      else this.logger.warn(`${this.plan.label}: ${text}. They will run; set outOfOrder: 'fail' to refuse.`);
    }
    if (unknown.length > 0) {
      const text = `applied but not in this build (unknown): ${listNames(unknown)}`;
      if (unknownPolicy === 'fail') problems.push(text);
      else this.logger.warn(`${this.plan.label}: ${text}. Fine for backward-compatible migrations; set unknownMigrations: 'fail' to refuse.`);
    }
    if (problems.length === 0) return;
    const error = new MigrationHistoryError(
      `${this.plan.label}: the migrations table does not fit this build: ${problems.join('; ')}.`,
      this.name,
      outOfOrderPolicy === 'fail' ? outOfOrder : [],
      unknownPolicy === 'fail' ? unknown : [],
    );
    this.state.update(this.name, { status: 'failed', error: error.message, finishedAt: new Date() });
    this.logger.error(error.message);
    throw error;
  }

  /** Records a failure the strategy reported without throwing. */
  markFailed(error: unknown): void {
    this.redactor.scrub(error);
    const message = isOwnError(error) ? error.message : `${this.plan.label}: ${this.describeFailure(error)}`;
    this.state.update(this.name, { status: 'failed', error: message, finishedAt: new Date() });
  }

  /** Records that the strategy will try again after `delayMs` (readiness: `retrying`). */
  reportRetry(report: RetryReport): void {
    const error = this.describeFailure(this.redactor.scrub(report.error));
    this.state.update(this.name, {
      status: 'retrying',
      current: undefined,
      error,
      retry: { attempt: report.attempt, attempts: report.attempts, nextAttemptAt: new Date(Date.now() + report.delayMs) },
    });
    this.env.emit({ type: 'retrying', dataSource: this.name, attempt: report.attempt, attempts: report.attempts, delayMs: report.delayMs, error });
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
    let total = 0;
    let current: { name: string; startedAt: number } | undefined;
    const markers = new StartedMarkers(this.plan.dataSource, queryRunner);
    /** The migration the run's marker row names now (one row, moved from migration to migration). */
    let marked: string | undefined;

    const executor = new ObservedMigrationExecutor(
      this.plan.dataSource,
      queryRunner,
      {
        planned: async (pending, recorded) => {
          total = pending.length;
          if (total === 0) return;
          // Before anything runs: a migration an earlier run started and never finished stops it.
          // Without the lock (lock: false) another run's markers are not ours to clear: it may hold them.
          await markers.assertNoneUnfinished(recorded, this.plan.label, this.name, { clearFinished: this.plan.lock !== undefined });
          if (this.mayNeedMarkers()) await markers.ensureTable();
          this.state.update(this.name, { status: 'running', pending: total, applied: [] });
        },
        started: async (name) => {
          // Stop between migrations: throwing here, before up(), rolls back only the empty transaction.
          if (this.env.control.stopped) throw this.interrupted(undefined, applied);
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
          const index = applied.length + 1;
          this.state.update(this.name, { current: { name, index, total, startedAt: new Date() } });
          this.env.emit({ type: 'migration-started', dataSource: this.name, migration: name, index, total });
        },
        applied: (name) => {
          applied.push(name);
          const tookMs = current ? Math.round(performance.now() - current.startedAt) : 0;
          current = undefined;
          this.detail(`${this.plan.label}: [${applied.length}/${total}] ${name} applied in ${ms(tookMs)}`);
          this.state.update(this.name, { applied: [...applied], pending: Math.max(0, total - applied.length), current: undefined });
          this.env.emit({ type: 'migration-finished', dataSource: this.name, migration: name, durationMs: tookMs });
        },
      },
      (text) => this.redactor.redact(text),
    );
    executor.transaction = this.plan.transaction;

    try {
      await executor.executePendingMigrations();
    } catch (error) {
      if (error instanceof MigrationInterruptedError) throw error;
      if (error instanceof MigrationDirtyError) throw this.dirtyFound(error);
      // A marker that outlived the rollback: the migration committed part of its work.
      const left = current && marked === current.name ? await markers.find(current.name) : undefined;
      if (this.env.control.stopped) throw this.interrupted(current?.name, applied, error, left);
      throw this.runFailed(MigrationSession.connectionLost(queryRunner, this.name, this.host(), error) ?? error, current?.name, applied, left);
    }
    if (total === 0) return this.nothingLeft(runStart, 'no pending migrations left; another process applied them');
    // Every migration of the run is recorded: the marker (naming the last one) has nothing left to say.
    if (marked !== undefined) await markers.remove(marked);
    const durationMs = Math.round(performance.now() - runStart);
    this.state.update(this.name, { status: 'done', pending: 0, finishedAt: new Date() });
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
      this.plan.dataSource.migrations.some((migration) => migration.transaction === false)
    );
  }

  /** An earlier run left an unfinished migration: nothing ran; the state says which, when and by whom. */
  private dirtyFound(error: MigrationDirtyError): MigrationDirtyError {
    const first = error.started[0]!;
    this.state.update(this.name, {
      status: 'failed',
      failedMigration: first.name,
      dirty: first,
      mayBePartiallyApplied: true,
      error: error.message,
      finishedAt: new Date(),
    });
    this.logger.error(error.message);
    this.env.emit({ type: 'migration-failed', dataSource: this.name, migration: first.name, error: error.message });
    return error;
  }

  private nothingLeft(runStart: number, why: string): MigrationRunResult {
    this.state.update(this.name, { status: 'done', pending: 0, finishedAt: new Date() });
    this.detail(`${this.plan.label}: ${why}`);
    return { applied: [], durationMs: Math.round(performance.now() - runStart) };
  }

  /**
   * Takes the plan's migration lock, waiting up to its timeout and logging who holds it; state
   * `waiting-for-lock` meanwhile. Undefined when the plan has no lock.
   */
  private async acquireLock(session: MigrationSession | undefined, noWait?: string): Promise<MigrationLock | undefined> {
    if (!this.plan.lock) return undefined;
    const { kind, settings } = this.plan.lock;
    const { timeoutMs, logEveryMs } = settings;
    const since = Date.now();
    let holder: string | undefined;
    let lock: MigrationLock | undefined;
    try {
      lock = await createMigrationLock(kind, settings.mode, this.plan.dataSource, session, {
        answerWithinMs: this.plan.connectionCheck?.timeoutMs ?? DEFAULT_ANSWER_WITHIN_MS,
      });
      if (await lock.tryAcquire(0)) return lock;
      if (noWait !== undefined) holder = (await lock.holder().catch(() => undefined)) ?? 'another process';
    } catch (error) {
      throw await this.lockFailed(lock, error);
    }
    if (noWait !== undefined) {
      await lock.release().catch(() => undefined);
      throw new MigrationLockTimeoutError(
        `${this.plan.label}: ${lock.description} is held by ${holder}: a migration run is in progress, and ${noWait} does not wait for it. ` +
          `Nothing was changed; run it again once that run has ended.`,
        this.name,
        0,
        holder,
      );
    }
    try {
      this.state.update(this.name, { status: 'waiting-for-lock', waitingSince: new Date(since), current: undefined });
      let nextLog = since;
      for (;;) {
        this.throwIfStopped();
        const waited = Date.now() - since;
        if (waited >= timeoutMs) break;
        if (Date.now() >= nextLog) {
          holder = (await lock.holder().catch(() => undefined)) ?? holder;
          this.state.update(this.name, { lockHolder: holder });
          this.logger.log(
            `${this.plan.label}: waiting for ${lock.description}, held by ${holder ?? 'another process'} (${seconds(waited)} of ${seconds(timeoutMs)})`,
          );
          this.env.emit({ type: 'lock-waiting', dataSource: this.name, holder, waitedMs: waited });
          nextLog = Date.now() + logEveryMs;
        }
        if (await lock.tryAcquire(Math.min(LOCK_WAIT_SLICE_MS, logEveryMs, timeoutMs - waited))) {
          const waitedMs = Date.now() - since;
          this.logger.log(`${this.plan.label}: acquired ${lock.description} after ${seconds(waitedMs)}`);
          this.state.update(this.name, { waitingSince: undefined, lockHolder: undefined });
          this.env.emit({ type: 'lock-acquired', dataSource: this.name, waitedMs });
          return lock;
        }
      }
    } catch (error) {
      throw await this.lockFailed(lock, error);
    }
    await lock.release().catch(() => undefined);
    const waitedMs = Date.now() - since;
    const timeout = new MigrationLockTimeoutError(
      `${this.plan.label}: gave up waiting for ${lock.description} after ${seconds(waitedMs)} (lock.timeoutMs ${timeoutMs}); ` +
        `held by ${holder ?? 'another process'}. If no migration is running there, that process is stuck: stop it, and the database releases the lock.`,
      this.name,
      waitedMs,
      holder,
    );
    this.state.update(this.name, { status: 'failed', error: timeout.message, finishedAt: new Date() });
    this.logger.error(timeout.message);
    throw timeout;
  }

  /** Taking the lock failed (not a timeout): released if half-taken; the state says why. */
  private async lockFailed(lock: MigrationLock | undefined, error: unknown): Promise<unknown> {
    await lock?.release().catch(() => undefined);
    if (error instanceof MigrationInterruptedError) return error;
    this.redactor.scrub(error);
    const failure = new MigrationFailedError(
      `${this.plan.label}: could not take ${lock?.description ?? 'the migration lock'}: ${this.describeFailure(error)}`,
      this.name,
      undefined,
      [],
      this.plan.transaction,
      { cause: error },
    );
    this.state.update(this.name, { status: 'failed', error: failure.message, finishedAt: new Date() });
    this.logger.error(failure.message, failure.stack);
    return failure;
  }

  private async ensureInitialized(): Promise<void> {
    if (!this.plan.dataSource.isInitialized) await this.plan.dataSource.initialize();
    // Initialized late (manualInitialization), its migrations are known only now. Checked on every
    // call (cached), so that none found keeps failing rather than passing once initialized.
    this.checkMigrationsOf(this.plan.dataSource.migrations);
  }

  private checkMigrationsOf(migrations: readonly MigrationInterface[]): void {
    checkMigrations(this.plan.dataSource, this.plan.tenant?.parent ?? this.plan.name, this.plan.label, this.plan.allowNoMigrations, migrations);
  }

  /** The run was stopped (shutdown) and `cause` is what stopped the strategy: recorded as the interruption. */
  interruptedBy(cause: unknown): MigrationInterruptedError {
    return this.interrupted(undefined, [], cause);
  }

  private throwIfStopped(): void {
    if (this.env.control.stopped) throw this.interrupted(undefined, []);
  }

  private interrupted(
    migration: string | undefined,
    applied: readonly string[],
    cause?: unknown,
    left?: StartedMigration,
  ): MigrationInterruptedError {
    const reason = this.env.control.reason ?? 'shutdown';
    if (cause !== undefined) this.redactor.scrub(cause);
    const error = new MigrationInterruptedError(
      `${this.plan.label}: migrations interrupted by ${reason}` +
        (!migration ? ' before the next migration' : left ? `: "${migration}" did not complete` : `: "${migration}" did not complete and was rolled back`) +
        (applied.length > 0 ? `; ${plural(applied.length, 'migration')} applied before stay applied` : '') +
        (this.plan.transaction === 'none' && migration && !left ? ` (transaction mode 'none': "${migration}" may be partially applied)` : '') +
        (left ? `. ${unfinishedAdvice(migration!)}` : '. The next boot continues.'),
      this.name,
      reason,
      cause === undefined ? undefined : { cause },
    );
    this.state.update(this.name, {
      status: 'failed',
      failedMigration: migration,
      mayBePartiallyApplied: (this.plan.transaction === 'none' && migration !== undefined) || left !== undefined,
      ...(left ? { dirty: left } : {}),
      error: error.message,
      finishedAt: new Date(),
    });
    this.logger.warn(error.message);
    return error;
  }

  private runFailed(error: unknown, migration: string | undefined, applied: readonly string[], left?: StartedMigration): MigrationFailedError {
    this.redactor.scrub(error);
    const mode = this.plan.transaction;
    const where = migration ? `migration "${migration}" failed` : 'migrations failed';
    const before = plural(applied.length, 'migration');
    const ddlCommits = commitsDdlImplicitly(this.plan.dataSource);
    // Under 'all', a rollback undoes the run only where DDL is transactional.
    const rolledBackAll = mode === 'all' && !ddlCommits;
    let kept: string;
    if (rolledBackAll) {
      kept = `Transaction mode 'all': the ${before} applied before it in this run were rolled back; nothing of this run was kept.`;
    } else if (mode === 'all') {
      kept =
        `Transaction mode 'all' cannot undo this on MySQL/MariaDB, which commit DDL statements implicitly: ` +
        `the ${before} applied before it in this run may stay applied and recorded, as may DDL the failed one ran. Check the migrations table before retrying.`;
    } else if (mode === 'each') {
      kept =
        `Transaction mode 'each': ${before} applied before it stay applied; the failed one was rolled back` +
        (ddlCommits ? `, except DDL it ran before the error (MySQL/MariaDB commit DDL implicitly).` : '.');
    } else {
      kept = `Transaction mode 'none': ${before} applied before it stay applied; the failed one ran without a transaction and may be partially applied.`;
    }
    if (left) kept += ` ${unfinishedAdvice(migration!)}`;
    const keptApplied = rolledBackAll ? [] : [...applied];
    const failure = new MigrationFailedError(
      `${this.plan.label}: ${where}: ${this.describeFailure(error)}. ${kept}`,
      this.name,
      migration,
      keptApplied,
      mode,
      { cause: error },
    );
    this.state.update(this.name, {
      status: 'failed',
      failedMigration: migration,
      mayBePartiallyApplied: (mode === 'none' && migration !== undefined) || left !== undefined,
      ...(left ? { dirty: left } : {}),
      applied: keptApplied,
      error: failure.message,
      finishedAt: new Date(),
    });
    // One line with the cause chain; the stack is printed once, by whoever receives the rethrown error.
    const causes = describeCauses(failure);
    this.logger.error(causes ? `${failure.message} (${causes})` : failure.message);
    this.env.emit({ type: 'migration-failed', dataSource: this.name, migration, error: failure.message });
    return failure;
  }

  /**
   * The error's message (redacted), with what it means where that is not obvious: which timeout
   * option fired, and which host could not be reached.
   */
  describeFailure(error: unknown): string {
    const message = this.redactor.message(error);
    const code = databaseErrorCode(error);
    const timeouts = this.plan.timeouts;
    if ((code === '55P03' || code === 1205 || code === 'ER_LOCK_WAIT_TIMEOUT') && timeouts.lockTimeoutMs !== undefined) {
      return `${message} (waited longer than migrationTimeouts.lockTimeoutMs = ${timeouts.lockTimeoutMs} ms for a lock another session holds)`;
    }
    if ((code === '57014' || code === 1969 || code === 'ER_STATEMENT_TIMEOUT') && timeouts.statementTimeoutMs !== undefined && !this.env.control.stopped) {
      return `${message} (a statement ran longer than migrationTimeouts.statementTimeoutMs = ${timeouts.statementTimeoutMs} ms)`;
    }
    const host = this.host();
    if (host && /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|ECONNRESET|connect|terminat/i.test(message) && !message.includes(host)) {
      return `${message} (database at ${host})`;
    }
    return message;
  }

  private host(): string | undefined {
    const options = this.plan.dataSource.options as { url?: string; host?: string; port?: number };
    if (options.url) {
      try {
        const url = new URL(options.url);
        return url.host || undefined;
      } catch {
        return undefined;
      }
    }
    return options.host ? `${options.host}${options.port ? `:${options.port}` : ''}` : undefined;
  }

  private strategyThrew(error: unknown, strategy: MigrationStrategy, startedAt: Date): unknown {
    if (!isOwnError(error)) {
      this.redactor.scrub(error);
      const message = `${this.plan.label}: ${strategy.constructor.name} threw: ${this.describeFailure(error)}`;
      this.state.update(this.name, { status: 'failed', error: message, finishedAt: new Date() });
      this.logger.error(message, error instanceof Error ? error.stack : undefined);
    }
    this.emitDone('failed', startedAt);
    return error;
  }

  private strategyReturned(run: StrategyRun, strategy: MigrationStrategy, startedAt: Date): void {
    if (run.markedFailed) {
      this.logger.error(`${this.plan.label}: marked failed by ${strategy.constructor.name} after ${ms(Date.now() - startedAt.getTime())}`);
      this.emitDone('failed', startedAt);
      return;
    }
    if (run.outcome === 'succeeded') {
      this.emitDone('done', startedAt);
      return;
    }
    const error =
      run.outcome === 'failed'
        ? (this.state.get(this.name)?.error ?? `${this.plan.label}: migrations failed`)
        : `${this.plan.label}: ${strategy.constructor.name} returned without applying the ${plural(run.pendingCount, 'pending migration')}`;
    this.state.update(this.name, { status: 'failed', error, finishedAt: new Date() });
    this.logger.error(`${error} (reported as failed)`);
    this.emitDone('failed', startedAt);
  }

  private emitDone(status: 'done' | 'failed', startedAt: Date): void {
    const applied = this.state.get(this.name)?.applied ?? [];
    this.env.emit({ type: 'data-source-done', dataSource: this.name, status, applied, durationMs: Date.now() - startedAt.getTime() });
  }

}

/** One call of a strategy: the context it gets, and what it did with it. */
class StrategyRun {
  outcome: RunOutcome = 'none';
  markedFailed = false;
  /** What runMigrations()/dropAndMigrate() rejected with on shutdown; every later call rejects with it again. */
  interruption: MigrationInterruptedError | undefined;
  readonly context: MigrationContext;
  readonly pendingCount: number;

  constructor(
    private readonly runner: DataSourceMigrationRunner,
    pending: readonly PendingMigration[],
    control: RunControl,
  ) {
    this.pendingCount = pending.length;
    let first = pending.length > 0;
    const track = async (fromScratch: boolean): Promise<MigrationRunResult> => {
      if (this.interruption) throw this.interruption;
      const known = first && !fromScratch ? pending : undefined;
      first = false;
      this.markedFailed = false;
      try {
        const result = await runner.execute(fromScratch, known);
        this.outcome = 'succeeded';
        return result;
      } catch (error) {
        this.outcome = 'failed';
        throw control.stopped ? this.interrupted(error) : error;
      }
    };
    this.context = Object.freeze({
      dataSourceName: runner.plan.tenant?.parent ?? runner.name,
      label: runner.plan.label,
      tenant: runner.plan.tenant?.name,
      dataSource: runner.plan.dataSource,
      pending: Object.freeze([...pending]),
      logger: runner.logger,
      get interrupted() {
        return control.stopped;
      },
      signal: control.signal,
      runMigrations: () => track(false),
      dropAndMigrate: () => track(true),
      markFailed: (error: unknown) => {
        if (this.interruption) return;
        this.markedFailed = true;
        runner.markFailed(error);
      },
      reportRetry: (report: RetryReport) => runner.reportRetry(report),
    });
  }

  /**
   * The interruption this run ends with, once the application is shutting down: the one
   * runMigrations() rejected with, or one made now from what the strategy threw (an aborted wait).
   */
  interrupted(error: unknown): MigrationInterruptedError {
    if (this.interruption) {
      if (error !== this.interruption) {
        this.runner.logger.debug(`${this.runner.plan.label}: after the interruption, the strategy threw: ${this.runner.describeFailure(error)}`);
      }
      return this.interruption;
    }
    this.interruption = error instanceof MigrationInterruptedError ? error : this.runner.interruptedBy(error);
    return this.interruption;
  }
}

/** Errors this library raised: their messages already name the DataSource, and they are already logged. */
function isOwnError(error: unknown): error is Error {
  return (
    error instanceof MigrationFailedError ||
    error instanceof MigrationDirtyError ||
    error instanceof MigrationLockTimeoutError ||
    error instanceof MigrationInterruptedError ||
    error instanceof MigrationHistoryError
  );
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function seconds(valueMs: number): string {
  return `${(valueMs / 1000).toFixed(1)} s`;
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}
