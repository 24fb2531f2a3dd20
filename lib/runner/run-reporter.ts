import type { StartedMigration } from '../contracts/migration-records.js';
import { MigrationFailedError } from '../errors/migration-failed.error.js';
import { MigrationInterruptedError } from '../errors/migration-interrupted.error.js';
import type { MigrationEvent } from '../events/migration-events.js';
import type { DataSourcePlan } from '../plan/migration-plan.js';
import { describeFailure, interruptionText } from './failure-text.js';
import type { RunnerEnvironment } from './runner-environment.js';

/** How a failure ends the attempt: its error (the message names the DataSource), and what readiness shows of it. */
export interface Failure<E extends Error> {
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
 * How one DataSource's run reports: its events (with the plan as their source), and each failure once, as a log line where it is
 * described and a `migration-failed` event (from which the state follows), and the errors it makes.
 */
export class RunReporter {
  constructor(
    private readonly plan: DataSourcePlan,
    private readonly env: RunnerEnvironment,
  ) {}

  /** Every event goes out with this plan as its source (for the log's label and level). */
  report(event: MigrationEvent): void {
    this.env.emit(event, this.plan);
  }

  /** The error's message (redacted), with which timeout fired or which host could not be reached. */
  describe(error: unknown): string {
    return describeFailure(this.plan, this.env.redactor, error, this.env.control.stopped);
  }

  /**
   * The one way a failure is reported: its log line (`line: ''` for none: a connection failure the
   * strategy may retry is logged by the strategy) and a `migration-failed` event. Returns the error to throw.
   */
  fail<E extends Error>(failure: Failure<E>): E {
    const { error } = failure;
    const line = failure.line ?? error.message;
    if (line !== '') {
      if (failure.level === 'warn') this.env.logger.warn(line);
      else this.env.logger.error(line, failure.stack);
    }
    this.report({
      type: 'migration-failed',
      dataSource: this.plan.name,
      migration: failure.migration,
      error: error.message,
      ...(failure.applied ? { applied: failure.applied } : {}),
      ...(failure.mayBePartiallyApplied ? { mayBePartiallyApplied: true } : {}),
      ...(failure.dirty ? { dirty: failure.dirty } : {}),
    });
    return error;
  }

  failedError(message: string, migration: string | undefined, applied: readonly string[], cause: unknown): MigrationFailedError {
    return new MigrationFailedError(message, this.plan.name, migration, applied, this.plan.transaction, { cause });
  }

  /**
   * Runs `work`, which needs the database to answer; a failure becomes a MigrationFailedError that
   * names the DataSource and its host (the original, e.g. ECONNREFUSED, stays its `cause`, so
   * RetryStrategy still sees a connection error).
   */
  async connecting<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      this.env.redactor.scrub(error);
      const message = `${this.plan.label}: could not reach the database: ${this.describe(error)}`;
      throw this.fail({ error: this.failedError(message, undefined, [], error), line: '' });
    }
  }

  throwIfStopped(): void {
    if (this.env.control.stopped) throw this.interrupted(undefined, 0);
  }

  /** The run was stopped (shutdown): before the next migration, or in `migration` (rolled back, or left dirty). */
  interrupted(migration: string | undefined, appliedBefore: number, cause?: unknown, left?: StartedMigration): MigrationInterruptedError {
    const reason = this.env.control.reason ?? 'shutdown';
    if (cause !== undefined) this.env.redactor.scrub(cause);
    const error = new MigrationInterruptedError(
      interruptionText(this.plan, reason, migration, appliedBefore, left !== undefined),
      this.plan.name,
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
}
