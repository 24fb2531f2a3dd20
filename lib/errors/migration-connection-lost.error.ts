import { AutoMigratorError } from './auto-migrator.error.js';
/**
 * The migration session's connection stopped answering (a silent network partition, a dead NAT
 * entry, a failed-over host): the connection check (option `connectionCheck`) closed it. The
 * statement in flight did not complete; the database rolls back its transaction once it notices.
 * Counted as a connection error, so RetryStrategy retries it.
 */
export class MigrationConnectionLostError extends AutoMigratorError {
  override readonly name = 'MigrationConnectionLostError';
  /** Like a socket timeout, so {@link isConnectionError} (and RetryStrategy) treats it as one. */
  readonly code = 'ETIMEDOUT';

  constructor(
    message: string,
    /** The DataSource name as registered with TypeOrmModule. */
    readonly dataSource: string,
    /** How long after the last answered check the connection was declared dead, in ms. */
    readonly detectedAfterMs: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
