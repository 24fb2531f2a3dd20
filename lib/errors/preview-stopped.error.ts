import { AutoMigratorError } from './auto-migrator.error.js';

/** What a migration did that a dry run cannot take back, or the preview running out of time. */
export class PreviewStoppedError extends AutoMigratorError {
  override readonly name = 'PreviewStoppedError';
}
