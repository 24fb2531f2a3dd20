import type { Logger } from '@nestjs/common';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { PendingMigration, StartedMigration } from '../contracts/migration-records.js';
import type { MigrationRunResult, MigrationStrategy, RetryReport } from '../contracts/migration-strategy.js';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { AutoMigratorError } from '../errors/auto-migrator.error.js';
import { MigrationDirtyError } from '../errors/migration-dirty.error.js';
import { MigrationFailedError } from '../errors/migration-failed.error.js';
import { MigrationHistoryError } from '../errors/migration-history.error.js';
import { MigrationInterruptedError } from '../errors/migration-interrupted.error.js';
import type { MigrationEvent } from '../events/migration-events.js';
import { logDetail } from '../events/migration-log.js';
import { judgeHistory } from '../history/history-policy.js';
import {
  compareWithBuild,
  missingSqliteFile,
  readMigrationHistory,
  readMigrationStatus,
  readRecordedNames,
  type MigrationHistoryRead,
  type MigrationStatusReport,
} from '../history/migration-status.js';
import { migrationsTableName, tableExists } from '../history/migrations-table.js';
import { commitsDdlImplicitly, StartedMarkers } from '../history/started-migrations.js';
import { buildMigrations, timestampOf } from '../plan/build-migrations.js';
import { checkMigrations, type DataSourcePlan } from '../plan/migration-plan.js';
import { declaredTransaction, loadMigrationsUnconnected } from '../typeorm/migration-internals.js';
import { ObservedMigrationExecutor } from '../typeorm/observed-migration-executor.js';
import { describeCauses } from '../util/error-chain.js';
import { ms, plural } from '../util/quantities.js';
import type { SecretRedactor } from '../util/secret-redactor.js';
import { hostOf, whatWasKept } from './failure-text.js';
import { LockedSession, type MigrationGuard } from './locked-session.js';
import { MigrationSession } from './migration-session.js';
import { RunReporter } from './run-reporter.js';
import type { RunnerEnvironment } from './runner-environment.js';
import { StrategyRun } from './strategy-run.js';

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
  private readonly reporter: RunReporter;
  private readonly session: LockedSession;
  /** What was read on the claimed session, holding the lock since: its first run need not read again. */
  private readUnderClaim: MigrationHistoryRead | undefined;

  constructor(
    readonly plan: DataSourcePlan,
    private readonly env: RunnerEnvironment,
  ) {
    this.name = plan.name;
    this.logger = env.logger;
    this.redactor = env.redactor;
    this.reporter = new RunReporter(plan, env);
    this.session = new LockedSession(plan, env, this.reporter, () => this.ensureInitialized());
  }

  /**
   * Runs `work` on the migration session, holding the plan's migration lock (see LockedSession.run);
   * with `noWait` (the operation's name), a lock held elsewhere is not waited for.
   */
  withSession<T>(
    work: (queryRunner: QueryRunner, beforeMigration: MigrationGuard, claimed: boolean) => Promise<T>,
    options: { noWait?: string } = {},
  ): Promise<T> {
    return this.session.run(work, options.noWait);
  }

  describe(error: unknown): string {
    return this.reporter.describe(error);
  }

  /** Per-migration lines: `log` for a DataSource, `debug` for each of possibly thousands of tenants. */
  private detail(message: string): void {
    logDetail(this.logger, this.plan, message);
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
  async migrate(
    strategy: MigrationStrategy,
    options: { readonly deferIfLocked?: boolean; readonly claimFirst?: boolean } = {},
  ): Promise<boolean> {
    const startedAt = Date.now();
    const done = (status: 'done' | 'failed', applied: readonly string[], error?: string) =>
      this.reporter.report({
        type: 'data-source-done',
        dataSource: this.name,
        status,
        applied,
        durationMs: Date.now() - startedAt,
        ...(error ? { error } : {}),
      });
    // Sharing with replicas: the lock is taken without waiting, and a tenant another process holds
    // is left to it. With `claimFirst` (known to be pending), before reading: what is pending is then
    // read once, under the lock, and the strategy's first run goes on from that read.
    const share = options.deferIfLocked === true && this.plan.lock !== undefined;
    const heldElsewhere = async () => {
      if ((await this.session.claim()) !== 'held elsewhere') return false;
      this.detail(`${this.plan.label}: another process is migrating it; coming back to it at the end`);
      return true;
    };
    if (share && options.claimFirst && (await heldElsewhere())) return false;
    try {
      let pending: PendingMigration[] | undefined;
      try {
        const status = await this.readStatusUnderClaim();
        this.checkHistory(status);
        pending = [...status.pending];
      } catch (error) {
        if (error instanceof MigrationHistoryError) throw error;
        if (error instanceof AutoMigratorConfigError) throw this.reporter.fail({ error });
        // Unreachable database: the strategy decides (run, retry, continue); runMigrations() reads again.
        this.redactor.scrub(error);
        this.logger.warn(`${this.plan.label}: could not read its migrations table (${this.describe(error)})`);
      }
      if (pending?.length === 0) {
        this.detail(`${this.plan.label}: no pending migrations`);
        done('done', []);
        return true;
      }
      if (share && !options.claimFirst && pending && (await heldElsewhere())) return false;
      await this.runStrategy(strategy, pending, startedAt, done);
    } finally {
      this.readUnderClaim = undefined;
      await this.session.releaseClaim();
    }
    return true;
  }

  /** The status, read on the claimed session when there is one (kept for the first run on it), else as readStatus. */
  private async readStatusUnderClaim(): Promise<MigrationStatusReport> {
    const runner = this.session.claimedRunner;
    if (!runner) return this.readStatus();
    const read = await readMigrationHistory(this.plan.dataSource, runner);
    this.readUnderClaim = read;
    return read.status;
  }

  private async runStrategy(
    strategy: MigrationStrategy,
    pending: PendingMigration[] | undefined,
    startedAt: number,
    done: (status: 'done' | 'failed', applied: readonly string[], error?: string) => void,
  ): Promise<void> {
    this.reporter.report({ type: 'run-started', dataSource: this.name, pending: (pending ?? []).map((migration) => migration.name) });

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
    if (this.env.control.stopped) throw this.reporter.interrupted(undefined, 0);
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
    this.reporter.throwIfStopped();
    const nothingPending = await this.reporter.connecting(async () => {
      if (fromScratch || knownPending !== undefined) {
        await this.ensureInitialized();
        return false;
      }
      return (await this.readPending()).length === 0;
    });
    // Fast path: nothing pending, no session, no lock.
    if (nothingPending) return this.nothingLeft(runStart, 'no pending migrations');
    // What is pending is read again on the session, under the lock, by the executor itself.
    return this.withSession((queryRunner, beforeMigration, claimed) => {
      // Read on this very session, under the lock it still holds: nothing can have changed.
      const read = claimed && !fromScratch ? this.readUnderClaim : undefined;
      this.readUnderClaim = undefined;
      return this.executeInSession(fromScratch, queryRunner, beforeMigration, runStart, read);
    });
  }

  /** Logs, or fails on, a pending migration older than the newest applied one and an applied one this build lacks. */
  checkHistory(status: MigrationStatusReport): void {
    const { warnings, error } = judgeHistory(status, this.plan.history, this.plan.label, this.name);
    for (const warning of warnings) this.logger.warn(warning);
    if (error) throw this.reporter.fail({ error });
  }

  /** Reports an event of an operation run on this runner's session (down: each migration reverted). */
  report(event: MigrationEvent): void {
    this.reporter.report(event);
  }

  /** Records that the strategy will try again after `delayMs` (readiness: `retrying`). */
  reportRetry(report: RetryReport): void {
    const error = this.describe(this.redactor.scrub(report.error));
    this.reporter.report({
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
    read: MigrationHistoryRead | undefined,
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
        migrationsTableExists: async (runner) =>
          (read !== undefined && read.recorded.length > 0) ||
          tableExists(this.plan.dataSource, runner, migrationsTableName(this.plan.dataSource)),
        // The only read under the lock: one plain SELECT (or the one made when the lock was claimed), and what it leaves pending.
        recorded: async (runner) => {
          const recorded = read ? [...read.recorded] : await readRecordedNames(this.plan.dataSource, runner);
          total = compareWithBuild(buildMigrations(this.plan.dataSource.migrations, this.plan.label), recorded).pending.length;
          if (total > 0 && (read === undefined || read.markers > 0)) {
            // Before anything runs: a migration an earlier run started and never finished stops it.
            // Without the lock (lock: false) another run's markers are not ours to clear: it may hold them.
            await markers.assertNoneUnfinished(recorded, this.plan.label, this.name, { clearFinished: this.plan.lock !== undefined });
            if (this.mayNeedMarkers()) await markers.ensureTable();
          }
          return recorded.map((name) => ({ name, timestamp: timestampOf(name) }));
        },
        started: async (name) => {
          // Stop between migrations: throwing here, before up(), rolls back only the empty transaction.
          if (this.env.control.stopped) throw this.reporter.interrupted(undefined, applied.length);
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
          this.reporter.report({ type: 'migration-started', dataSource: this.name, migration: name, index: applied.length + 1, total });
        },
        applied: (name) => {
          applied.push(name);
          const durationMs = current ? Math.round(performance.now() - current.startedAt) : 0;
          current = undefined;
          this.reporter.report({
            type: 'migration-finished',
            dataSource: this.name,
            migration: name,
            durationMs,
            index: applied.length,
            total,
          });
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
        throw this.reporter.fail({ error, migration: first.name, dirty: first, mayBePartiallyApplied: true });
      }
      // A marker that outlived the rollback: the migration committed part of its work.
      const left = current && marked === current.name ? await markers.find(current.name) : undefined;
      if (this.env.control.stopped) throw this.reporter.interrupted(current?.name, applied.length, error, left);
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
    return this.reporter.interrupted(undefined, 0, cause);
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
    return this.reporter.fail({
      error: failure,
      migration,
      applied: keptApplied,
      mayBePartiallyApplied: (this.plan.transaction === 'none' && migration !== undefined) || left !== undefined,
      dirty: left,
      line: causes ? `${failure.message} (${causes})` : failure.message,
    });
  }
}
