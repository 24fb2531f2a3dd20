import type { StartedMigration } from '../contracts/migration-records.js';
import { AutoMigratorError } from './auto-migrator.error.js';

/**
 * A migration was recorded as started (applied or reverted) where the database could not make it
 * atomic (MySQL/MariaDB, or without a transaction), and its end was never recorded: the process
 * died, or the migration failed after DDL that committed implicitly. It may be partially applied.
 * Nothing runs on that DataSource until an operator has repaired the schema and marked the
 * migration applied or not applied (`auto-migrator resolve`, `AutoMigratorService.resolve()`).
 */
export class MigrationDirtyError extends AutoMigratorError {
  override readonly name = 'MigrationDirtyError';
  /** The (first) unfinished migration. */
  readonly migration: string;
  readonly startedAt: Date;
  /** Host and process id of the process that started it. */
  readonly startedBy: string;

  constructor(
    message: string,
    /** The DataSource name as registered with TypeOrmModule. */
    readonly dataSource: string,
    /** Every unfinished migration, oldest start first. */
    readonly started: readonly StartedMigration[],
  ) {
    super(message);
    const first = started[0]!;
    this.migration = first.name;
    this.startedAt = first.startedAt;
    this.startedBy = first.startedBy;
  }
}
