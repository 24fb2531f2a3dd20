import { AutoMigratorError } from './auto-migrator.error.js';

/**
 * A condition the library relies on did not hold: a bug in the library, or a driver set up in a
 * way it does not support. The message says which; please report it.
 */
export class AutoMigratorInvariantError extends AutoMigratorError {
  override readonly name = 'AutoMigratorInvariantError';
}

/** Throws an {@link AutoMigratorInvariantError} saying `message` unless `condition` holds. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AutoMigratorInvariantError(`${message} (an internal check of nestjs-auto-migrator failed; please report it)`);
}
