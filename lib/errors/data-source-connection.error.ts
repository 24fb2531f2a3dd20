import { AutoMigratorError } from './auto-migrator.error.js';
/**
 * The CLI's `--data-source` DataSource could not connect: the message names the file, where it
 * connects (no password) and the driver's message (redacted); the driver's error is `cause`.
 */
export class DataSourceConnectionError extends AutoMigratorError {
  override readonly name = 'DataSourceConnectionError';

  constructor(
    message: string,
    /** The file that exports the DataSource. */
    readonly file: string,
    /** Where it connects: type, host:port/database and user, without password. */
    readonly target: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
