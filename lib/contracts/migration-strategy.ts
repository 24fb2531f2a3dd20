import type { Logger, Type } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { PendingMigration } from './migration-records.js';

/** What one successful run applied. */
export interface MigrationRunResult {
  /** Names of the migrations applied by this run, in order. */
  readonly applied: readonly string[];
  readonly durationMs: number;
}

/** What a strategy that retries reports before it waits. */
export interface RetryReport {
  /** The attempt that just failed (1-based). */
  readonly attempt: number;
  readonly attempts: number;
  /** How long it waits before the next attempt. */
  readonly delayMs: number;
  readonly error: unknown;
}

/** Everything a strategy gets for one DataSource. */
export interface MigrationContext {
  /** The DataSource name as registered with TypeOrmModule. */
  readonly dataSourceName: string;
  /** The tenant (schema) being migrated, for tenant migrations; undefined for the DataSource's own. */
  readonly tenant: string | undefined;
  /** How log lines name what is migrated: `DataSource "app"`, or `DataSource "app", tenant "acme"`. */
  readonly label: string;
  /** The DataSource (for a tenant: a view of it whose schema is the tenant's). */
  readonly dataSource: DataSource;
  /**
   * Migrations pending when the run began, oldest first. Empty only when the database could not
   * be reached before the strategy was called (runMigrations() connects and reads them again).
   */
  readonly pending: readonly PendingMigration[];
  /** Nest logger with the library's context; messages are yours to word. */
  readonly logger: Logger;
  /**
   * True once the application is shutting down (SIGTERM, `app.close()`) while this DataSource
   * migrates. From then on runMigrations() and dropAndMigrate() reject with the same
   * {@link MigrationInterruptedError} without touching the database. An interruption is not a
   * failure: the migration in flight was rolled back (or committed), the next boot continues.
   * Let it through (`if (error instanceof MigrationInterruptedError) throw error;`): restore no
   * backup, retry nothing.
   */
  readonly interrupted: boolean;
  /** Aborted when the application starts shutting down: pass it to waits (backoff, backups) so they end early. */
  readonly signal: AbortSignal;
  /**
   * Runs the pending migrations with the configured transaction mode, logging each with its
   * duration. Rejects with a {@link MigrationFailedError} naming the migration that failed, or a
   * {@link MigrationInterruptedError} when the application is shutting down.
   */
  runMigrations(): Promise<MigrationRunResult>;
  /**
   * Drops every table of this DataSource (TypeORM `dropDatabase()`: the tables of its schema or
   * database, not the database itself), then runs every migration from scratch. Destroys data.
   */
  dropAndMigrate(): Promise<MigrationRunResult>;
  /**
   * Records that this DataSource could not be migrated without throwing: the application boots,
   * and readiness reports the DataSource as failed with this error. Ignored after an
   * interruption: the run ends as interrupted whatever the strategy does.
   */
  markFailed(error: unknown): void;
  /** Reports a failed attempt that will be retried: readiness shows `retrying` with the attempt and the next time. */
  reportRetry(report: RetryReport): void;
}

/**
 * Decides what happens to one DataSource's pending migrations, and on failure. It is also the
 * DI token: provide `{ provide: MigrationStrategy, useClass: YourStrategy }`, or pass the class
 * as the `strategy` option. Return to let the DataSource count as done (or failed, after
 * `markFailed`); throw to fail it, which in blocking mode rejects the application's bootstrap.
 * On shutdown, rethrow the {@link MigrationInterruptedError} untouched: whatever a strategy
 * throws or returns once the application is shutting down, the run ends as interrupted.
 */
export abstract class MigrationStrategy {
  abstract migrate(context: MigrationContext): Promise<void>;
}

/** True for a MigrationStrategy instance, or a class whose instances are one. */
export function isMigrationStrategy(value: unknown): value is Type<MigrationStrategy> | MigrationStrategy {
  if (typeof value === 'function') {
    const prototype: unknown = value.prototype;
    return typeof prototype === 'object' && prototype !== null && typeof (prototype as { migrate?: unknown }).migrate === 'function';
  }
  return typeof value === 'object' && value !== null && typeof (value as { migrate?: unknown }).migrate === 'function';
}
