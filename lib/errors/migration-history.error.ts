import { AutoMigratorError } from './auto-migrator.error.js';
/**
 * The migrations table disagrees with this build in a way the options forbid: a pending migration
 * older than the newest applied one (`outOfOrder: 'fail'`), an applied migration this build does
 * not have (`unknownMigrations: 'fail'`), or an applied migration edited since it ran
 * (`changedMigrations: 'fail'`).
 */
export class MigrationHistoryError extends AutoMigratorError {
  override readonly name = 'MigrationHistoryError';

  constructor(
    message: string,
    readonly dataSource: string,
    readonly outOfOrder: readonly string[],
    readonly unknown: readonly string[],
    /** Applied migrations whose up() changed since they ran. */
    readonly changed: readonly string[] = [],
  ) {
    super(message);
  }
}
