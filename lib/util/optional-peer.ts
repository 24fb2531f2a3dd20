import { isMissingModule } from './missing-module.js';

/**
 * Loads an optional peer dependency (@nestjs/config, @nestjs/terminus) when the application has
 * it installed, else returns undefined. A package that is installed but fails to load (a broken
 * install, one of its own dependencies missing) still throws.
 *
 * A synchronous require: the package is built as CommonJS, and Node >= 20.19 requires the
 * ESM-only Nest 12 packages too (the same module instances an `import` gets).
 */
export function loadOptionalPeer<T>(name: string): T | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- synchronous on purpose, see above
    return require(name) as T;
  } catch (error) {
    if (isMissingModule(error, name)) return undefined;
    throw error;
  }
}
