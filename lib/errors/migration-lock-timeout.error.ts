import { AutoMigratorError } from './auto-migrator.error.js';
/**
 * The migration lock of a DataSource was not acquired within `lock.timeoutMs`: another process
 * held it the whole time. Handed to the strategy like any other failure of `runMigrations()`.
 */
export class MigrationLockTimeoutError extends AutoMigratorError {
  override readonly name = 'MigrationLockTimeoutError';

  constructor(
    message: string,
    /** The DataSource name as registered with TypeOrmModule. */
    readonly dataSource: string,
    /** How long this process waited, in ms. */
    readonly waitedMs: number,
    /** Who held the lock when it gave up, as far as the database tells. */
    readonly holder: string | undefined,
  ) {
    super(message);
  }
}
