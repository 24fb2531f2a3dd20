import { setTimeout as delay } from 'node:timers/promises';
import { MigrationInterruptedError } from '../errors/migration-interrupted.error.js';
import { isConnectionError } from './connection-errors.js';
import { FailFastStrategy } from './fail-fast.strategy.js';
import { MigrationStrategy, type MigrationContext } from '../contracts/migration-strategy.js';

/** Options of {@link RetryStrategy}. */
export interface RetryStrategyOptions {
  /** Attempts in all, the first included. Default 5. */
  attempts?: number;
  /** Delay before the second attempt, in ms. Default 500. */
  initialDelayMs?: number;
  /** Each next delay is the previous one times this. Default 2. */
  factor?: number;
  /** Upper bound of one delay, in ms. Default 10000. */
  maxDelayMs?: number;
  /** Which errors to retry. Default: connection-level errors only ({@link isConnectionError}). */
  isRetryable?: (error: unknown) => boolean;
}

/**
 * Wraps another strategy (default FailFastStrategy) and retries it when it throws a
 * connection-level error, with exponential backoff. A migration's own SQL error is not
 * retried: it would fail the same way again. Neither is a shutdown's interruption, which also
 * ends a wait between attempts at once.
 */
export class RetryStrategy extends MigrationStrategy {
  private readonly attempts: number;
  private readonly initialDelayMs: number;
  private readonly factor: number;
  private readonly maxDelayMs: number;
  private readonly isRetryable: (error: unknown) => boolean;

  constructor(
    private readonly inner: MigrationStrategy = new FailFastStrategy(),
    options: RetryStrategyOptions = {},
  ) {
    super();
    this.attempts = positiveInteger(options.attempts ?? 5, 'attempts');
    this.initialDelayMs = nonNegative(options.initialDelayMs ?? 500, 'initialDelayMs');
    this.factor = nonNegative(options.factor ?? 2, 'factor');
    this.maxDelayMs = nonNegative(options.maxDelayMs ?? 10_000, 'maxDelayMs');
    this.isRetryable = options.isRetryable ?? isConnectionError;
  }

  async migrate(context: MigrationContext): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.inner.migrate(context);
        return;
      } catch (error) {
        if (error instanceof MigrationInterruptedError || context.interrupted) throw error;
        if (attempt >= this.attempts || !this.isRetryable(error)) throw error;
        const wait = Math.min(this.maxDelayMs, this.initialDelayMs * this.factor ** (attempt - 1));
        context.logger.warn(
          `${context.label}: attempt ${attempt} of ${this.attempts} failed with a connection error; retrying in ${wait} ms`,
        );
        context.reportRetry({ attempt, attempts: this.attempts, delayMs: wait, error });
        // Shutdown aborts the wait; the run then ends as interrupted.
        await delay(wait, undefined, { signal: context.signal });
      }
    }
  }
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`RetryStrategy option "${name}" must be an integer >= 1; got ${value}`);
  }
  return value;
}

function nonNegative(value: number, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`RetryStrategy option "${name}" must be a finite number >= 0; got ${value}`);
  }
  return value;
}
