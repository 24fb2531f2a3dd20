import type { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { MigrationInterruptedError } from '../errors/migration-interrupted.error.js';
import type { MigrationContext, MigrationRunResult, RetryReport } from '../contracts/migration-strategy.js';
import type { PendingMigration } from '../contracts/migration-records.js';
import type { MigrationHistoryRead } from '../history/migration-status.js';
import type { AppliedRecord } from './migration-pass.js';
import type { RunControl } from './run-control.js';

/** What was read before the strategy ran: what is pending, and the read made under a claimed lock (its first run goes on from it). */
export interface FirstRead {
  readonly pending: readonly PendingMigration[];
  readonly underClaim?: MigrationHistoryRead;
  /** The migrations table did not exist (known when the read asked the catalog first): the run's read asks first too. */
  readonly noMigrationsTable?: true;
}

/** What a strategy's context does, on the runner that made it. */
export interface StrategyRunHost {
  readonly context: Pick<MigrationContext, 'dataSourceName' | 'label' | 'tenant'> & {
    readonly dataSource: DataSource;
    readonly logger: Logger;
  };
  /** One attempt; `known`: what was read before it (the first runMigrations() only); what it applies goes to `record`. */
  execute(fromScratch: boolean, known: FirstRead | undefined, record: AppliedRecord): Promise<MigrationRunResult>;
  reportRetry(report: RetryReport): void;
  /** The interruption made from what stopped the strategy (a wait aborted on shutdown). */
  interruptedBy(cause: unknown): MigrationInterruptedError;
  describe(error: unknown): string;
}

/**
 * One call of a strategy: the context it gets, and what it did with it (the runner reads the
 * outcome when the strategy returns or throws).
 */
export class StrategyRun implements AppliedRecord {
  /** What the last attempt applied and kept. */
  applied: readonly string[] = [];
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
    private readonly first: FirstRead,
    control: RunControl,
  ) {
    const pending = first.pending;
    let isFirst = pending.length > 0;
    const track = async (fromScratch: boolean): Promise<MigrationRunResult> => {
      if (this.interruption) throw this.interruption;
      const known = isFirst && !fromScratch ? first : undefined;
      isFirst = false;
      this.markedFailed = undefined;
      try {
        const result = await host.execute(fromScratch, known, this);
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

  get pending(): readonly PendingMigration[] {
    return this.first.pending;
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
