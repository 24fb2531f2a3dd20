import type { MigrationTransactionMode } from '../contracts/migration-records.js';
import { AutoMigratorError } from './auto-migrator.error.js';

/**
 * A DataSource's migrations could not be applied. The message names the DataSource, the
 * migration (when one was running) and what the transaction mode means for what stays applied;
 * the original error is `cause` (with any password removed).
 */
export class MigrationFailedError extends AutoMigratorError {
  override readonly name = 'MigrationFailedError';

  constructor(
    message: string,
    /** The DataSource name as registered with TypeOrmModule. */
    readonly dataSource: string,
    /** The migration that was running, if the failure happened inside one. */
    readonly migration: string | undefined,
    /** Migrations of this run that were applied before the failure (and, under 'each'/'none', stay applied). */
    readonly appliedBeforeFailure: readonly string[],
    readonly transaction: MigrationTransactionMode,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
