import type { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { MigrationInterruptedError } from '../errors/migration-interrupted.error.js';
import type { MigrationContext, MigrationRunResult, RetryReport } from '../contracts/migration-strategy.js';
import type { PendingMigration } from '../contracts/migration-records.js';
import type { RunControl } from './run-control.js';

/** What a strategy's context does, on the runner that made it. */
export interface StrategyRunHost {
  readonly context: Pick<MigrationContext, 'dataSourceName' | 'label' | 'tenant'> & {
    readonly dataSource: DataSource;
    readonly logger: Logger;
  };
  execute(fromScratch: boolean, knownPending: readonly PendingMigration[] | undefined): Promise<MigrationRunResult>;
  reportRetry(report: RetryReport): void;
  /** The interruption made from what stopped the strategy (a wait aborted on shutdown). */
  interruptedBy(cause: unknown): MigrationInterruptedError;
  describe(error: unknown): string;
}

/**
 * One call of a strategy: the context it gets, and what it did with it (the runner reads the
 * outcome when the strategy returns or throws).
 */
export class StrategyRun {
  /** What the last runMigrations()/dropAndMigrate() did. */
  outcome: 'none' | 'succeeded' | 'failed' = 'none';
  /** The error the last failed call rejected with. */
  lastError: unknown;
  /** What markFailed() was given, unless a later call succeeded. */
  markedFailed: { error: unknown } | undefined;
  /** What runMigrations()/dropAndMigrate() rejected with on shutdown; every later call rejects with it again. */
  interruption: MigrationInterruptedError | undefined;
  readonly context: MigrationContext;

  constructor(
    private readonly host: StrategyRunHost,
    readonly pending: readonly PendingMigration[],
    control: RunControl,
  ) {
    let first = pending.length > 0;
    const track = async (fromScratch: boolean): Promise<MigrationRunResult> => {
      if (this.interruption) throw this.interruption;
      const known = first && !fromScratch ? pending : undefined;
      first = false;
      this.markedFailed = undefined;
      try {
        const result = await host.execute(fromScratch, known);
        this.outcome = 'succeeded';
        return result;
      } catch (error) {
        this.outcome = 'failed';
        this.lastError = error;
        throw control.stopped ? this.interrupted(error) : error;
      }
    };
    this.context = Object.freeze({
      ...host.context,
      pending: Object.freeze([...pending]),
      get interrupted() {
        return control.stopped;
      },
      signal: control.signal,
      runMigrations: () => track(false),
      dropAndMigrate: () => track(true),
      markFailed: (error: unknown) => {
        if (!this.interruption) this.markedFailed = { error };
      },
      reportRetry: (report: RetryReport) => host.reportRetry(report),
    });
  }

  /**
   * The interruption this run ends with, once the application is shutting down: the one
   * runMigrations() rejected with, or one made now from what the strategy threw (an aborted wait).
   */
  interrupted(error: unknown): MigrationInterruptedError {
    if (this.interruption) {
      if (error !== this.interruption) {
        this.host.context.logger.debug(
          `${this.host.context.label}: after the interruption, the strategy threw: ${this.host.describe(error)}`,
        );
      }
      return this.interruption;
    }
    this.interruption = error instanceof MigrationInterruptedError ? error : this.host.interruptedBy(error);
    return this.interruption;
  }
}
