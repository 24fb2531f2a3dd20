import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { errorChain } from '../util/error-chain.js';
import { listNames } from '../util/name-list.js';

/** How many unset variables an error names before "… and N more". */
export const UNSET_SHOWN = 5;

/** What a module file exports, and which environment variables its evaluation read while they were unset. */
export interface LoadedModuleFile {
  readonly path: string;
  /** Its exports; where a TypeScript loader wrapped a CommonJS module's exports in `default`, those too. */
  readonly exports: Record<string, unknown>;
  /** Variables read from `process.env` while the file loaded that had no value (a `.env` not loaded, say). */
  readonly unsetVariables: readonly string[];
}

/** TypeScript files a `require` hook (ts-node, `typeorm-ts-node-commonjs`'s convention) can load. */
const REQUIRABLE_TYPESCRIPT = new Set(['.ts', '.cts', '.tsx']);

/**
 * Loads the file the CLI was pointed at (`--data-source`, `--app`): with `require` where it is
 * TypeScript and a `require` hook for it is registered (ts-node), else with `import()` (compiled
 * JavaScript, ESM, or TypeScript through an ESM loader such as tsx). A TypeScript file with no
 * loader at all gets the application's own ts-node, in transpile-only mode (see registerTsNode).
 */
export async function loadModuleFile(file: string, flag: string): Promise<LoadedModuleFile> {
  const path = resolve(file);
  if (!existsSync(path)) throw new AutoMigratorConfigError(`${flag} ${file}: no such file (looked at ${path}).`);
  const extension = extname(path);
  const typescript = /^\.[cm]?tsx?$/.test(extension);
  const unset = new Set<string>();
  const environment = process.env;
  // Which variables the file reads while they are unset: the usual reason its DataSource has no driver or URL.
  process.env = new Proxy(environment, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (value === undefined && typeof key === 'string' && readByApplication()) unset.add(key);
      return value;
    },
    // Straight to process.env (not through the proxy as receiver, which its own setter refuses).
    set: (target, key, value) => Reflect.set(target, key, value),
  });
  try {
    if (typescript && REQUIRABLE_TYPESCRIPT.has(extension) && !require.extensions[extension] && !loaderGiven()) registerTsNode(path, flag);
    const loaded =
      typescript && REQUIRABLE_TYPESCRIPT.has(extension) && require.extensions[extension]
        ? // eslint-disable-next-line @typescript-eslint/no-require-imports -- through the ts-node hook the application registered
          (require(path) as Record<string, unknown>)
        : ((await import(pathToFileURL(path).href)) as Record<string, unknown>);
    return { path, exports: withWrappedExports(loaded), unsetVariables: [...unset] };
  } catch (error) {
    // Said already, whole (no ts-node to register).
    if (error instanceof AutoMigratorConfigError) throw error;
    const missingMetadata = noDecoratorMetadata(`${flag} ${file}`, error);
    if (missingMetadata) throw missingMetadata;
    const message = (error instanceof Error ? error.message : String(error)).replace(/\.+$/, '');
    // TypeORM's `Wrong driver: "undefined" given` and the like: a setting the file read was unset.
    const variables =
      unset.size > 0 && /\bundefined\b/.test(message)
        ? ` While loading, it read ${listNames([...unset], UNSET_SHOWN)} from the environment, unset here (a .env file? pass --env-file <path>).`
        : '';
    const hint = typescript ? ` ${TYPESCRIPT_ADVICE}` : '';
    throw new AutoMigratorConfigError(`${flag} ${file} could not be loaded: ${message}.${variables}${hint}`, { cause: error });
  } finally {
    process.env = environment;
  }
}

/**
 * Whether the code reading process.env now is the application's own, not Node's or a package's
 * (which read many optional variables as they load).
 */
function readByApplication(): boolean {
  const frames = (new Error().stack ?? '').split('\n').slice(1);
  // This file's own frames, by name: under a TypeScript loader with source maps they read lib/cli/module-file.ts.
  const caller = frames.find((frame) => !/[/\\]module-file\.[cm]?[jt]s:/.test(frame));
  return caller !== undefined && !caller.includes('/node_modules/') && !caller.includes('(node:') && !caller.includes(' node:');
}

/** How to run the CLI on a TypeScript file (docs/release-operations-and-cli.md says the same). */
export const TYPESCRIPT_ADVICE =
  "For a TypeScript file, the CLI uses the application's own ts-node (transpile-only) when it is installed (npm install -D ts-node); " +
  'or give a loader yourself: NODE_OPTIONS="--require ts-node/register", or NODE_OPTIONS="--import tsx" (which emits no decorator metadata: ' +
  'decorated entities need explicit column types there); or point it at the compiled JavaScript.';

/** An ESM loader given to Node (`--import tsx`, `--loader ts-node/esm`): it loads the TypeScript itself, through import(). */
function loaderGiven(): boolean {
  const flags = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)];
  return flags.some((flag, index) => /^--(import|loader|experimental-loader)(=|$)/.test(flag) && (flag.includes('=') || flags[index + 1]));
}

/**
 * No TypeScript loader is registered: the application's own ts-node (resolved from the file, as
 * the application would resolve it), registered in transpile-only mode as `typeorm-ts-node-commonjs`
 * does, with the tsconfig.json found from the file (its decorator metadata, its module kind). Type
 * checking is the build's job, and would take seconds per run. Without ts-node there, an error
 * says what to install or use.
 */
function registerTsNode(path: string, flag: string): void {
  const fromApplication = createRequire(path);
  let tsNode: { register(options: object): unknown };
  try {
    tsNode = fromApplication(fromApplication.resolve('ts-node')) as typeof tsNode;
  } catch (error) {
    throw new AutoMigratorConfigError(
      `${flag} ${path} is TypeScript, no TypeScript loader is registered, and ts-node cannot be found from it ` +
        `(${error instanceof Error ? error.message.split('\n')[0] : String(error)}). ${TYPESCRIPT_ADVICE}`,
      { cause: error },
    );
  }
  tsNode.register({ transpileOnly: true, projectSearchDir: dirname(path) });
}

/**
 * A CommonJS module loaded through `import()` by an ESM TypeScript loader (tsx) arrives as
 * `{ default: { AppDataSource } }`: Node cannot see its named exports. Those found under
 * `default` are added (a named export of the same name wins).
 */
function withWrappedExports(loaded: Record<string, unknown>): Record<string, unknown> {
  const wrapped = loaded['default'];
  if (typeof wrapped !== 'object' || wrapped === null || Object.getPrototypeOf(wrapped) !== Object.prototype) return loaded;
  return { ...(wrapped as Record<string, unknown>), ...loaded };
}

/**
 * TypeORM's ColumnTypeUndefinedError (a decorated entity property with no type given and no
 * `design:type` metadata): the entities were compiled without decorator metadata, as tsx and
 * esbuild compile them. As an AutoMigratorConfigError that says so and what to use instead of
 * the loader; undefined for any other error.
 */
export function noDecoratorMetadata(what: string, error: unknown): AutoMigratorConfigError | undefined {
  const link = [...errorChain(error)].find(
    (candidate) =>
      candidate['name'] === 'ColumnTypeUndefinedError' || /^Column type for \S+#\S+ is not defined/.test(String(candidate['message'])),
  );
  if (!link) return undefined;
  const column = /Column type for (\S+#\S+) is not defined/.exec(String(link['message']))?.[1] ?? 'a column';
  return new AutoMigratorConfigError(
    `${what}: TypeORM found no type for ${column} ("Column type for ${column} is not defined"): its entities were compiled without ` +
      `decorator metadata, which TypeORM reads column types from. A loader such as tsx (esbuild) emits none. Run the CLI without it ` +
      `(with no loader given, it uses the application's own ts-node, which emits the metadata where tsconfig.json sets ` +
      `"emitDecoratorMetadata": true), or point it at the compiled JavaScript.`,
    { cause: error },
  );
}
