import { readEntityDrift, type EntityDrift } from '../history/entity-drift.js';
import { readInvalidIndexes, type InvalidIndex } from '../history/invalid-indexes.js';
import type { Logger } from '@nestjs/common';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { PendingMigration } from '../contracts/migration-records.js';
import type { MigrationRunResult, MigrationStrategy, RetryReport } from '../contracts/migration-strategy.js';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { AutoMigratorError } from '../errors/auto-migrator.error.js';
import { MigrationHistoryError } from '../errors/migration-history.error.js';
import type { MigrationInterruptedError } from '../errors/migration-interrupted.error.js';
import type { MigrationEvent } from '../events/migration-events.js';
import { logDetail } from '../events/migration-log.js';
import { judgeHistory, STRICT_HISTORY } from '../history/history-policy.js';
import { ChecksumTable } from '../history/migration-checksums.js';
import {
  compareWithBuild,
  missingSqliteFile,
  readMigrationHistory,
  type MigrationHistoryRead,
  type MigrationStatusReport,
} from '../history/migration-status.js';
import { buildMigrations } from '../plan/build-migrations.js';
import { checkMigrations, type DataSourcePlan } from '../plan/migration-plan.js';
import { loadMigrationsUnconnected } from '../typeorm/migration-internals.js';
import { listNames } from '../util/name-list.js';
import { ms, plural } from '../util/quantities.js';
import type { SecretRedactor } from '../util/secret-redactor.js';
import { LockedSession, type MigrationGuard } from './locked-session.js';
import { MigrationPass, nothingLeft, type AppliedRecord } from './migration-pass.js';
import { RunReporter } from './run-reporter.js';
import type { RunnerEnvironment } from './runner-environment.js';
import { StrategyRun, type FirstRead } from './strategy-run.js';

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
  private readonly reporter: RunReporter;
  private readonly session: LockedSession;

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
    return (await this.readHistory()).status;
  }

  /** {@link readStatus}, with what the read found (see MigrationHistoryRead). */
  private async readHistory(
    askFirst = false,
  ): Promise<Pick<MigrationHistoryRead, 'status' | 'unrecorded' | 'stale' | 'reapplied' | 'checksumsTable' | 'noMigrationsTable'>> {
    const missingFile = missingSqliteFile(this.plan.dataSource);
    if (missingFile !== undefined) {
      const migrations = await loadMigrationsUnconnected(this.plan.dataSource);
      this.checkMigrationsOf(migrations);
      const status = { ...compareWithBuild(buildMigrations(migrations, this.plan.label), []), missingDatabaseFile: missingFile };
      return { status, unrecorded: [], stale: [], reapplied: [], checksumsTable: 'missing' };
    }
    await this.ensureInitialized();
    return readMigrationHistory(this.plan.dataSource, undefined, askFirst);
  }

  /** The database's INVALID indexes (PostgreSQL; undefined elsewhere): see readInvalidIndexes. Read-only. */
  async readInvalidIndexes(): Promise<InvalidIndex[] | undefined> {
    if (this.plan.dataSource.options.type !== 'postgres') return undefined;
    await this.ensureInitialized();
    const queryRunner = this.plan.dataSource.createQueryRunner();
    try {
      return await readInvalidIndexes(queryRunner);
    } finally {
      await queryRunner.release();
    }
  }

  /** The entities against the live schema (see readEntityDrift), secrets redacted from the statements. Read-only. */
  async readEntityDrift(): Promise<EntityDrift> {
    // A SQLite file that does not exist is not created by a read: every entity is then missing from it.
    if (missingSqliteFile(this.plan.dataSource) !== undefined) {
      return { entities: 0, statements: [], notCompared: 'the SQLite database file does not exist, and a read creates nothing' };
    }
    await this.ensureInitialized();
    const drift = await readEntityDrift(this.plan.dataSource);
    return { ...drift, statements: drift.statements.map((statement) => this.redactor.redact(statement)) };
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
   * is free, is taken before the strategy runs and kept for its first run. With `claimFirst` (known
   * to be pending), it is taken before reading: what is pending is then read once, under the lock,
   * and the strategy's first run goes on from that read. With `askFirst` (its migrations table was
   * missing when last seen: a new tenant) the reads ask the catalog first, in one statement,
   * instead of reading tables that are likely not there (each such read fails: a round trip, and
   * an error in the server's log).
   */
  async migrate(
    strategy: MigrationStrategy,
    options: { readonly deferIfLocked?: boolean; readonly claimFirst?: boolean; readonly askFirst?: boolean } = {},
  ): Promise<boolean> {
    const startedAt = Date.now();
    const share = options.deferIfLocked === true && this.plan.lock !== undefined;
    try {
      if (share && options.claimFirst && (await this.heldElsewhere())) return false;
      const first = await this.readFirst(options.askFirst === true);
      if (first?.pending.length === 0) {
        this.detail(`${this.plan.label}: no pending migrations`);
        this.done(startedAt, 'done', []);
        return true;
      }
      if (share && !options.claimFirst && first && (await this.heldElsewhere())) return false;
      await this.runStrategy(strategy, first ?? { pending: [] }, startedAt);
    } finally {
      await this.session.releaseClaim();
    }
    return true;
  }

  /** Claims the lock without waiting: true when another process holds it (the tenant is left to it). */
  private async heldElsewhere(): Promise<boolean> {
    if ((await this.session.claim()) !== 'held elsewhere') return false;
    this.detail(`${this.plan.label}: another process is migrating it; coming back to it at the end`);
    return true;
  }

  /**
   * What is pending before the strategy runs, read on the claimed session when there is one (its
   * first run goes on from that read; `askFirst`: see readMigrationHistory); undefined when the database cannot be read yet (the strategy
   * decides: run, retry, continue; runMigrations() reads again).
   */
  private async readFirst(askFirst: boolean): Promise<FirstRead | undefined> {
    try {
      const claimed = this.session.claimedRunner;
      const underClaim = claimed ? await readMigrationHistory(this.plan.dataSource, claimed, askFirst) : undefined;
      const read = underClaim ?? (await this.readHistory(askFirst));
      this.checkHistory(read.status);
      await this.recordBaseline(read, claimed);
      return { pending: [...read.status.pending], underClaim, ...(read.noMigrationsTable ? { noMigrationsTable: true as const } : {}) };
    } catch (error) {
      if (error instanceof MigrationHistoryError) throw error;
      if (error instanceof AutoMigratorConfigError) throw this.reporter.fail({ error });
      this.redactor.scrub(error);
      this.logger.warn(`${this.plan.label}: could not read its migrations table (${this.describe(error)})`);
      return undefined;
    }
  }

  /**
   * Applied migrations with no checksum yet (applied by TypeORM itself, or by an earlier version of
   * this library) get this build's, marked as a baseline: nothing to compare on this run, drift
   * caught from the next. So do migrations applied again since their checksum was recorded
   * (TypeORM's migration:revert, then migration:run): what ran last is this build's text, not the
   * recorded one. Not under the lock: a baseline never replaces a checksum a run wrote meanwhile.
   * Migrations a rebuild compiled to another text, their checksum unchanged, get the new text's
   * hash. A table from a version that kept no row ids is upgraded. A failure (a read-only user,
   * say) is a warning, and the next run tries again.
   */
  private async recordBaseline(
    read: Pick<MigrationHistoryRead, 'unrecorded' | 'stale' | 'reapplied' | 'checksumsTable'>,
    runner?: QueryRunner,
  ): Promise<void> {
    const { unrecorded, stale, reapplied, checksumsTable } = read;
    if (unrecorded.length === 0 && stale.length === 0 && reapplied.length === 0 && checksumsTable !== 'no-row-ids') return;
    const queryRunner = runner ?? this.plan.dataSource.createQueryRunner();
    try {
      const table = new ChecksumTable(this.plan.dataSource, queryRunner);
      await table.ensure(checksumsTable);
      await table.record(unrecorded, 'baseline');
      await table.record(reapplied, 'baseline', 'other-row');
      await table.refreshSourceHashes(stale);
      if (unrecorded.length > 0)
        this.detail(`${this.plan.label}: recorded the checksums of ${plural(unrecorded.length, 'applied migration')} as their baseline`);
      if (reapplied.length > 0) {
        this.logger.log(
          `${this.plan.label}: applied again since their checksum was recorded (a new row in the migrations table: reverted and run again, ` +
            `by TypeORM's CLI say): ${listNames(reapplied)}; this build's checksum is recorded as their baseline`,
        );
      }
    } catch (error) {
      this.redactor.scrub(error);
      this.logger.warn(
        `${this.plan.label}: could not record the checksums of applied migrations (${this.describe(error)}); trying again next run`,
      );
    } finally {
      if (!runner) await queryRunner.release();
    }
  }

  private done(startedAt: number, status: 'done' | 'failed', applied: readonly string[], error?: string): void {
    this.reporter.report({
      type: 'data-source-done',
      dataSource: this.name,
      status,
      applied,
      durationMs: Date.now() - startedAt,
      ...(error ? { error } : {}),
    });
  }

  private async runStrategy(strategy: MigrationStrategy, first: FirstRead, startedAt: number): Promise<void> {
    const pending = first.pending.map((migration) => migration.name);
    this.reporter.report({ type: 'run-started', dataSource: this.name, pending });
    const run = new StrategyRun(this, first, this.env.control);
    const strategyName = strategy.constructor.name;
    try {
      await strategy.migrate(run.context);
      // A strategy that caught the interruption and returned: the run still ends interrupted.
      if (run.interruption) throw run.interruption;
    } catch (thrown) {
      const error = this.env.control.stopped ? run.interrupted(thrown) : thrown;
      if (error instanceof AutoMigratorError) {
        this.done(startedAt, 'failed', run.applied);
      } else {
        // A failure of the strategy's own: its stack is printed here, once.
        this.redactor.scrub(error);
        const message = `${this.plan.label}: ${strategyName} threw: ${this.describe(error)}`;
        this.logger.error(message, error instanceof Error ? error.stack : undefined);
        this.done(startedAt, 'failed', run.applied, message);
      }
      throw error;
    }
    const failure = this.failureOf(run, strategyName, startedAt);
    this.done(startedAt, failure === undefined ? 'done' : 'failed', run.applied, failure);
    if (this.env.control.stopped) throw this.reporter.interrupted(undefined, 0);
  }

  /** How a strategy that returned left the DataSource: undefined when done, else the failure it is reported with (logged here). */
  private failureOf(run: StrategyRun, strategyName: string, startedAt: number): string | undefined {
    if (run.markedFailed) {
      const { error } = run.markedFailed;
      this.redactor.scrub(error);
      this.logger.error(`${this.plan.label}: marked failed by ${strategyName} after ${ms(Date.now() - startedAt)}`);
      return error instanceof AutoMigratorError ? error.message : `${this.plan.label}: ${this.describe(error)}`;
    }
    if (run.outcome === 'succeeded') return undefined;
    const error =
      run.outcome === 'failed'
        ? this.redactor.message(run.lastError)
        : `${this.plan.label}: ${strategyName} returned without applying the ${plural(run.pending.length, 'pending migration')}`;
    this.logger.error(`${error} (reported as failed)`);
    return error;
  }

  /** What a strategy's context is made of (see StrategyRun). */
  get context() {
    return {
      dataSourceName: this.plan.dataSourceName,
      label: this.plan.label,
      tenant: this.plan.tenant?.name,
      dataSource: this.plan.dataSource,
      logger: this.logger,
    };
  }

  /**
   * Applies pending migrations (after dropping every table when `fromScratch`) on the migration
   * session, holding the migration lock; what is pending is read again under the lock, unless it
   * was read on this very session when its lock was claimed (`known.underClaim`).
   */
  async execute(fromScratch: boolean, known: FirstRead | undefined, record: AppliedRecord): Promise<MigrationRunResult> {
    const runStart = performance.now();
    this.reporter.throwIfStopped();
    const nothingPending = await this.reporter.connecting(async () => {
      if (fromScratch || known !== undefined) {
        await this.ensureInitialized();
        return false;
      }
      return (await this.readPending()).length === 0;
    });
    // Fast path: nothing pending, no session, no lock.
    if (nothingPending) return nothingLeft(this.plan, this.env, runStart, 'no pending migrations');
    return this.withSession((queryRunner, beforeMigration, claimed) => {
      // Read on this very session, under the lock it still holds: nothing can have changed.
      const read = claimed && !fromScratch ? known?.underClaim : undefined;
      const request = { fromScratch, read, runStart, record, askFirst: known?.noMigrationsTable === true };
      return new MigrationPass(this.plan, this.env, this.reporter, queryRunner, beforeMigration, request).run();
    });
  }

  /**
   * Logs, or fails on, a pending migration older than the newest applied one, an applied one this
   * build lacks and one edited since it ran, by the plan's policies: a refusal is reported (the
   * DataSource fails, as a boot that refuses to migrate does).
   */
  checkHistory(status: MigrationStatusReport): void {
    const error = this.judgeHistory(status);
    if (error) throw this.reporter.fail({ error });
  }

  /**
   * The same judgement, reporting nothing but the warnings (`ensureUp`, a question asked of the
   * table: readiness is not its business); `strict`: each policy as 'fail'. Returns the refusal.
   */
  judgeHistory(status: MigrationStatusReport, strict = false): MigrationHistoryError | undefined {
    const policy = strict ? STRICT_HISTORY : this.plan.history;
    const { warnings, error } = judgeHistory(status, policy, this.plan.label, this.name, this.plan.tenant !== undefined);
    for (const warning of warnings) this.logger.warn(warning);
    return error;
  }

  /** Refuses to migrate, before anything ran (a gate of the operations, e.g. the deploy check): reported once, as a failure; returns the error to throw. */
  refuse<E extends Error>(error: E): E {
    return this.reporter.fail({ error });
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

  /** Connects the DataSource if it is not yet, and checks its migrations (see checkMigrations). */
  async ensureInitialized(): Promise<void> {
    if (!this.plan.dataSource.isInitialized) await this.plan.dataSource.initialize();
    // Initialized late (manualInitialization), its migrations are known only now. Checked on every
    // call (cached), so that none found keeps failing rather than passing once initialized.
    this.checkMigrationsOf(this.plan.dataSource.migrations);
  }

  private checkMigrationsOf(migrations: readonly MigrationInterface[]): void {
    checkMigrations(this.plan.dataSource, this.plan.dataSourceName, this.plan.label, this.plan.allowNoMigrations, migrations);
  }

  /** The run was stopped (shutdown) and `cause` is what stopped the strategy: recorded as the interruption. */
  interruptedBy(cause: unknown): MigrationInterruptedError {
    return this.reporter.interrupted(undefined, 0, cause);
  }
}
