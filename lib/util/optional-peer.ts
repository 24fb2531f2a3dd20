import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { isMissingModule } from './missing-module.js';

/** The majors of the optional peers that load as CommonJS, for Nest 11 (Terminus 12 and Config 12 are ES modules only). */
const COMMONJS_MAJORS: Readonly<Record<string, string>> = { '@nestjs/terminus': '^11', '@nestjs/config': '^4' };

/**
 * Loads an optional peer dependency (@nestjs/config, @nestjs/terminus) when the application has
 * it installed, else returns undefined. A package that is installed but fails to load (a broken
 * install, one of its own dependencies missing) still throws; one that is an ES module where only
 * CommonJS can be loaded (Terminus 12 under Jest's CommonJS runtime) throws an
 * AutoMigratorConfigError naming the major to install instead.
 *
 * A synchronous require: the package is built as CommonJS, and Node >= 20.19 requires the
 * ESM-only Nest 12 packages too (the same module instances an `import` gets). `load` is that
 * require (given otherwise only by tests).
 */
export function loadOptionalPeer<T>(name: string, load: (id: string) => unknown = require): T | undefined {
  try {
    return load(name) as T;
  } catch (error) {
    if (isMissingModule(error, name)) return undefined;
    if (isEsmInCommonJs(error)) throw esmOnly(name, load, error);
    throw error;
  }
}

/** Node's and Jest's ways of saying that CommonJS met an ES module. */
function isEsmInCommonJs(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code === 'ERR_REQUIRE_ESM' || code === 'ERR_REQUIRE_ASYNC_MODULE') return true;
  return (
    error instanceof SyntaxError &&
    typeof message === 'string' &&
    /Unexpected token 'export'|Cannot use import statement outside a module|Unexpected token '\{'/.test(message)
  );
}

function esmOnly(name: string, load: (id: string) => unknown, cause: unknown): AutoMigratorConfigError {
  let version: string | undefined;
  try {
    version = (load(`${name}/package.json`) as { version?: string }).version;
  } catch {
    // An ES module package may not export its package.json: named without its version.
  }
  const major = COMMONJS_MAJORS[name];
  return new AutoMigratorConfigError(
    `${name}${version ? ` ${version}` : ''} is installed but cannot be loaded here: it is an ES module, and this runtime loads ` +
      `CommonJS only (Jest without --experimental-vm-modules, for instance). ` +
      (major
        ? `With Nest 11, install its CommonJS major: npm install ${name}@${major} (Terminus 11 and Config 4 go with Nest 11; Terminus 12 and Config 12 with Nest 12).`
        : `Install a CommonJS version of it, or run this code as ESM.`),
    { cause },
  );
}
