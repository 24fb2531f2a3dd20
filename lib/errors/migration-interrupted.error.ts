import { AutoMigratorError } from './auto-migrator.error.js';
/**
 * The application was shut down (e.g. SIGTERM) while migrating: the run stopped before its next
 * migration, and the one in flight committed or was rolled back. The next boot continues.
 */
export class MigrationInterruptedError extends AutoMigratorError {
  override readonly name = 'MigrationInterruptedError';

  constructor(
    message: string,
    readonly dataSource: string,
    /** What stopped the run, e.g. "SIGTERM". */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
