import { AutoMigratorError } from './auto-migrator.error.js';

/** Thrown when the lock is not, or no longer, held by this process: nothing more is migrated. */
export class MigrationLockError extends AutoMigratorError {
  override readonly name = 'MigrationLockError';
}
