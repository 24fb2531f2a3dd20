import { AutoMigratorError } from './auto-migrator.error.js';
/**
 * The module's configuration cannot be used: an option, a DataSource name or a migration
 * needs fixing. Thrown at bootstrap, before any migration runs.
 */
export class AutoMigratorConfigError extends AutoMigratorError {
  override readonly name = 'AutoMigratorConfigError';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}
