import type { Logger } from '@nestjs/common';
import type { QueryRunner } from 'typeorm';
import { MigrationHistoryError } from '../errors/migration-history.error.js';
import { readMigrationStatus, type MigrationStatusReport } from '../operations/migration-status.js';
import { MigrationLockTimeoutError } from '../errors/migration-lock-timeout.error.js';
import { createMigrationLock } from '../lock/create-migration-lock.js';
import type { MigrationLock } from '../lock/migration-lock.js';
import { MigrationFailedError } from '../errors/migration-failed.error.js';
import type { DataSourcePlan } from '../plan/migration-plan.js';
import type { MigrationStateStore } from '../state/migration-state.js';
import type {
  MigrationContext,
  MigrationRunResult,
  MigrationStrategy,
  PendingMigration,
} from '../strategies/migration-strategy.js';
import type { SecretRedactor } from '../util/secret-redactor.js';
import { ObservedMigrationExecutor } from './observed-migration-executor.js';

type RunOutcome = 'none' | 'succeeded' | 'failed';

/**
 * Migrates one DataSource: reads what is pending, hands it to the strategy, applies migrations
 * with TypeORM's MigrationExecutor, and keeps the DataSource's state and logs current.
 */
export class DataSourceMigrationRunner {
  readonly name: string;

  constructor(
    readonly plan: DataSourcePlan,
    private readonly state: MigrationStateStore,
    readonly logger: Logger,
    private readonly redactor: SecretRedactor,
  ) {
    this.name = plan.name;
  }

  /** Migrations not yet recorded in the migrations table. Read-only: creates no table. */
  async readPending(queryRunner?: QueryRunner): Promise<PendingMigration[]> {
    return [...(await readMigrationStatus(this.plan.dataSource, queryRunner)).pending];
  }

  /**
   * Runs the strategy for this DataSource when anything is pending. Resolves when the DataSource
   * is done or marked failed; rejects with the strategy's error (state `failed`) when it throws.
   */
  async migrate(strategy: MigrationStrategy): Promise<void> {
    const startedAt = new Date();
    let status: MigrationStatusReport;
    try {
      status = await readMigrationStatus(this.plan.dataSource);
    } catch (error) {
      this.redactor.scrub(error);
      const failure = new MigrationFailedError(
        `DataSource "${this.name}": could not read its migrations table: ${this.redactor.message(error)}`,
        this.name,
        undefined,
        [],
        this.plan.transaction,
        { cause: error },
      );
      this.state.update(this.name, { status: 'failed', error: failure.message, startedAt, finishedAt: new Date() });
      this.logger.error(failure.message, failure.stack);
      throw failure;
    }
    this.checkHistory(status);
    const pending = [...status.pending];
    if (pending.length === 0) {
      this.state.update(this.name, { status: 'done', pending: 0, startedAt, finishedAt: new Date() });
      this.logger.log(`DataSource "${this.name}": no pending migrations`);
      return;
    }
    this.state.update(this.name, { status: 'pending', pending: pending.length, startedAt });
    this.logger.log(
      `DataSource "${this.name}": ${plural(pending.length, 'pending migration')} (transaction mode '${this.plan.transaction}'): ${pending
        .map((migration) => migration.name)
        .join(', ')}`,
    );

    const run = new StrategyRun(this, pending);
    try {
      await strategy.migrate(run.context);
    } catch (error) {
      throw this.strategyThrew(error, strategy);
    }
    this.strategyReturned(run, strategy, Date.now() - startedAt.getTime());
  }

  /**
   * Applies pending migrations (after dropping every table when `fromScratch`), holding the
   * migration lock when the plan has one; what is pending is read again under the lock.
   */
  async execute(fromScratch: boolean, knownPending?: readonly PendingMigration[]): Promise<MigrationRunResult> {
    const runStart = performance.now();
    return this.withLock((queryRunner, locked) =>
      this.executeLocked(fromScratch, queryRunner, locked ? undefined : knownPending, runStart),
    );
  }

  /**
   * Runs `work` holding the plan's migration lock (when it has one), with the lock's connection
   * when the lock is held by one; releases the lock whatever happens.
   */
  async withLock<T>(work: (queryRunner: QueryRunner | undefined, locked: boolean) => Promise<T>): Promise<T> {
    const lock = await this.acquireLock();
    try {
      return await work(lock?.queryRunner, lock !== undefined);
    } finally {
      await lock?.release().catch((error: unknown) => {
        this.logger.warn(
          `DataSource "${this.name}": releasing ${lock.description} failed (${this.redactor.message(error)}); its connection was closed instead`,
        );
      });
    }
  }

  /** Logs, or fails on, a pending migration older than the newest applied one and an applied one this build lacks. */
  checkHistory(status: MigrationStatusReport): void {
    const { outOfOrder: outOfOrderPolicy, unknownMigrations: unknownPolicy } = this.plan.history;
    const outOfOrder = status.outOfOrder.map((migration) => migration.name);
    const unknown = status.unknown.map((migration) => migration.name);
    const problems: string[] = [];
    if (outOfOrder.length > 0) {
      const text = `pending but older than the newest applied migration (out of order): ${outOfOrder.join(', ')}`;
      if (outOfOrderPolicy === 'fail') problems.push(text);
      else this.logger.warn(`DataSource "${this.name}": ${text}. They will run; set outOfOrder: 'fail' to refuse.`);
    }
    if (unknown.length > 0) {
      const text = `applied but not in this build (unknown): ${unknown.join(', ')}`;
      if (unknownPolicy === 'fail') problems.push(text);
      else this.logger.warn(`DataSource "${this.name}": ${text}. Fine for backward-compatible migrations; set unknownMigrations: 'fail' to refuse.`);
    }
    if (problems.length === 0) return;
    const error = new MigrationHistoryError(
      `DataSource "${this.name}": the migrations table does not fit this build: ${problems.join('; ')}.`,
      this.name,
      outOfOrderPolicy === 'fail' ? outOfOrder : [],
      unknownPolicy === 'fail' ? unknown : [],
    );
    this.state.update(this.name, { status: 'failed', error: error.message, finishedAt: new Date() });
    this.logger.error(error.message);
    throw error;
  }

  private async executeLocked(
    fromScratch: boolean,
    queryRunner: QueryRunner | undefined,
    knownPending: readonly PendingMigration[] | undefined,
    runStart: number,
  ): Promise<MigrationRunResult> {
    if (fromScratch) {
      this.logger.warn(`DataSource "${this.name}": dropping every table before migrating from scratch`);
      await this.plan.dataSource.dropDatabase();
    }
    const total = (knownPending ?? (await this.readPending(queryRunner))).length;
    if (total === 0) {
      this.state.update(this.name, { status: 'done', pending: 0, current: undefined, finishedAt: new Date() });
      this.logger.log(`DataSource "${this.name}": no pending migrations left; another process applied them`);
      return { applied: [], durationMs: performance.now() - runStart };
    }
    const applied: string[] = [];
    let current: { name: string; startedAt: number } | undefined;
    this.state.update(this.name, { status: 'running', pending: total, applied: [], error: undefined, failedMigration: undefined });

    const executor = new ObservedMigrationExecutor(this.plan.dataSource, queryRunner, {
      started: (name) => {
        current = { name, startedAt: performance.now() };
        this.state.update(this.name, {
          current: { name, index: applied.length + 1, total, startedAt: new Date() },
        });
      },
      applied: (name) => {
        applied.push(name);
        const tookMs = current ? performance.now() - current.startedAt : 0;
        current = undefined;
        this.logger.log(`DataSource "${this.name}": [${applied.length}/${total}] ${name} applied in ${ms(tookMs)}`);
        this.state.update(this.name, { applied: [...applied], pending: Math.max(0, total - applied.length), current: undefined });
      },
    }, (text) => this.redactor.redact(text));
    executor.transaction = this.plan.transaction;

    try {
      await executor.executePendingMigrations();
    } catch (error) {
      throw this.runFailed(error, current?.name, applied);
    }
    const durationMs = performance.now() - runStart;
    this.state.update(this.name, { status: 'done', pending: 0, current: undefined, finishedAt: new Date() });
    this.logger.log(`DataSource "${this.name}": ${plural(applied.length, 'migration')} applied in ${ms(durationMs)}`);
    return { applied, durationMs };
  }

  /**
   * Takes the plan's migration lock, waiting up to its timeout and logging who holds it; state
   * `waiting-for-lock` meanwhile. Undefined when the plan has no lock.
   */
  private async acquireLock(): Promise<MigrationLock | undefined> {
    if (!this.plan.lock) return undefined;
    const { timeoutMs, logEveryMs } = this.plan.lock.settings;
    const lock = createMigrationLock(this.plan.lock.kind, this.plan.dataSource);
    const since = new Date();
    let holder: string | undefined;
    try {
      if (await lock.tryAcquire(0)) return lock;
      this.state.update(this.name, { status: 'waiting-for-lock', waitingSince: since, current: undefined });
      for (;;) {
        const waited = Date.now() - since.getTime();
        if (waited >= timeoutMs) break;
        holder = (await lock.holder().catch(() => undefined)) ?? holder;
        this.state.update(this.name, { lockHolder: holder });
        this.logger.log(
          `DataSource "${this.name}": waiting for ${lock.description}, held by ${holder ?? 'another process'} (${seconds(waited)} of ${seconds(timeoutMs)})`,
        );
        if (await lock.tryAcquire(Math.min(logEveryMs, timeoutMs - waited))) {
          this.logger.log(`DataSource "${this.name}": acquired ${lock.description} after ${seconds(Date.now() - since.getTime())}`);
          this.state.update(this.name, { waitingSince: undefined, lockHolder: undefined });
          return lock;
        }
      }
    } catch (error) {
      await lock.release().catch(() => undefined);
      this.redactor.scrub(error);
      const failure = new MigrationFailedError(
        `DataSource "${this.name}": could not take ${lock.description}: ${this.redactor.message(error)}`,
        this.name,
        undefined,
        [],
        this.plan.transaction,
        { cause: error },
      );
      this.state.update(this.name, { status: 'failed', error: failure.message, waitingSince: undefined, finishedAt: new Date() });
      this.logger.error(failure.message, failure.stack);
      throw failure;
    }
    await lock.release().catch(() => undefined);
    const waitedMs = Date.now() - since.getTime();
    const timeout = new MigrationLockTimeoutError(
      `DataSource "${this.name}": gave up waiting for ${lock.description} after ${seconds(waitedMs)} (lock.timeoutMs ${timeoutMs}); ` +
        `held by ${holder ?? 'another process'}. If no migration is running there, that process is stuck: stop it, and the database releases the lock.`,
      this.name,
      waitedMs,
      holder,
    );
    this.state.update(this.name, { status: 'failed', error: timeout.message, waitingSince: undefined, finishedAt: new Date() });
    this.logger.error(timeout.message);
    throw timeout;
  }

  /** Records a failure the strategy reported without throwing. */
  markFailed(error: unknown): void {
    this.redactor.scrub(error);
    // The library's own errors already name the DataSource.
    const message =
      error instanceof MigrationFailedError || error instanceof MigrationLockTimeoutError
        ? error.message
        : `DataSource "${this.name}": ${this.redactor.message(error)}`;
    this.state.update(this.name, { status: 'failed', current: undefined, error: message, finishedAt: new Date() });
  }

  private runFailed(error: unknown, migration: string | undefined, applied: readonly string[]): MigrationFailedError {
    this.redactor.scrub(error);
    const mode = this.plan.transaction;
    const where = migration ? `migration "${migration}" failed` : 'migrations failed';
    const before = plural(applied.length, 'migration');
    const ddlCommits = this.commitsDdlImplicitly();
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
    const keptApplied = rolledBackAll ? [] : [...applied];
    const failure = new MigrationFailedError(
      `DataSource "${this.name}": ${where}: ${this.redactor.message(error)}. ${kept}`,
      this.name,
      migration,
      keptApplied,
      mode,
      { cause: error },
    );
    this.state.update(this.name, {
      status: 'failed',
      current: undefined,
      failedMigration: migration,
      applied: keptApplied,
      error: failure.message,
      finishedAt: new Date(),
    });
    this.logger.error(failure.message, failure.stack);
    return failure;
  }

  private strategyThrew(error: unknown, strategy: MigrationStrategy): unknown {
    // Already recorded in the state and logged where they arose.
    if (error instanceof MigrationFailedError || error instanceof MigrationLockTimeoutError) return error;
    this.redactor.scrub(error);
    const message = `DataSource "${this.name}": ${strategy.constructor.name} threw: ${this.redactor.message(error)}`;
    this.state.update(this.name, { status: 'failed', current: undefined, error: message, finishedAt: new Date() });
    this.logger.error(message, error instanceof Error ? error.stack : undefined);
    return error;
  }

  private strategyReturned(run: StrategyRun, strategy: MigrationStrategy, durationMs: number): void {
    const state = this.state.get(this.name);
    if (run.markedFailed) {
      this.logger.error(`DataSource "${this.name}": marked failed by ${strategy.constructor.name} after ${ms(durationMs)}`);
      return;
    }
    if (run.outcome === 'succeeded') return;
    const error =
      run.outcome === 'failed'
        ? (state?.error ?? `DataSource "${this.name}": migrations failed`)
        : `DataSource "${this.name}": ${strategy.constructor.name} returned without applying the ${plural(run.pendingCount, 'pending migration')}`;
    this.state.update(this.name, { status: 'failed', error, finishedAt: new Date() });
    this.logger.error(`${error} (reported as failed)`);
  }

  private commitsDdlImplicitly(): boolean {
    const type = this.plan.dataSource.options.type;
    return type === 'mysql' || type === 'mariadb' || type === 'aurora-mysql';
  }
}

/** One call of a strategy: the context it gets, and what it did with it. */
class StrategyRun {
  outcome: RunOutcome = 'none';
  markedFailed = false;
  readonly context: MigrationContext;
  readonly pendingCount: number;

  constructor(runner: DataSourceMigrationRunner, pending: readonly PendingMigration[]) {
    this.pendingCount = pending.length;
    let first = true;
    const track = async (fromScratch: boolean): Promise<MigrationRunResult> => {
      const known = first && !fromScratch ? pending : undefined;
      first = false;
      this.markedFailed = false;
      try {
        const result = await runner.execute(fromScratch, known);
        this.outcome = 'succeeded';
        return result;
      } catch (error) {
        this.outcome = 'failed';
        throw error;
      }
    };
    this.context = Object.freeze({
      dataSourceName: runner.name,
      dataSource: runner.plan.dataSource,
      pending: Object.freeze([...pending]),
      logger: runner.logger,
      runMigrations: () => track(false),
      dropAndMigrate: () => track(true),
      markFailed: (error: unknown) => {
        this.markedFailed = true;
        runner.markFailed(error);
      },
    });
  }
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
