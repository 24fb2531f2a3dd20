import { Logger, type DynamicModule, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { DataSource } from 'typeorm';
import { AUTO_MIGRATOR_BOOTSTRAP, AUTO_MIGRATOR_LOGGER_CONTEXT, type AutoMigratorBootstrap } from '../auto-migrator.constants.js';
import { AutoMigratorService } from '../auto-migrator.service.js';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { MigrationOperations, type MigrationOperationsApi } from '../operations/migration-operations.js';
import type { MigrationTimeoutOptions } from '../options/auto-migrator-options.interface.js';
import { resolveAutoMigratorOptions } from '../options/resolve-options.js';
import { planDataSources } from '../plan/migration-plan.js';
import { RunControl } from '../runner/run-control.js';
import { MigrationStateStore } from '../state/migration-state.js';
import { FailFastStrategy } from '../strategies/fail-fast.strategy.js';
import { DataSourceConnectionError } from '../errors/data-source-connection.error.js';
import { missingSqliteFile } from '../history/migration-status.js';
import { describeConnectionTarget, namesNoServer } from '../util/connection-target.js';
import { errorChain } from '../util/error-chain.js';
import { redactDataSourceLogger } from '../typeorm/redacting-logger.js';
import { SecretRedactor } from '../util/secret-redactor.js';
import type { CliLogger } from './cli-logger.js';
import { loadModuleFile, noDecoratorMetadata, UNSET_SHOWN } from './module-file.js';
import { listNames } from '../util/name-list.js';

/** What the CLI runs its command on: the operations (the service's, or built here), and how to let go of the connections. */
export interface CliTarget {
  readonly redactor: SecretRedactor;
  readonly operations: MigrationOperationsApi;
  close(): Promise<void>;
}

/**
 * `--data-source <file>`: a module exporting a TypeORM DataSource (default export, or its only
 * DataSource export), as the TypeORM CLI takes. Migrated as "default", with FailFastStrategy and
 * the default lock; `migrationTimeouts` from the command line (--lock-timeout, --statement-timeout).
 */
export async function dataSourceTarget(
  file: string,
  logger: CliLogger,
  migrationTimeouts: MigrationTimeoutOptions = {},
): Promise<CliTarget> {
  const { exports, unsetVariables } = await loadModuleFile(file, '--data-source');
  const candidates = Object.entries(exports).filter(([, value]) => isDataSource(value));
  const chosen = isDataSource(exports['default']) ? exports['default'] : candidates.length === 1 ? candidates[0]![1] : undefined;
  if (!isDataSource(chosen)) {
    throw new AutoMigratorConfigError(
      candidates.length > 1
        ? `--data-source ${file} exports several DataSources (${candidates.map(([name]) => name).join(', ')}); export the one to migrate as default.`
        : `--data-source ${file} exports no TypeORM DataSource (its exports: ${Object.keys(exports).join(', ') || 'none'}): export one, e.g. "export default new DataSource({ ... })".`,
    );
  }
  const dataSource = chosen;
  Logger.overrideLogger(logger);
  const redactor = SecretRedactor.forDataSources([dataSource]);
  // Before connecting: TypeORM's own logger prints queries and failed ones (with `logging` on).
  redactDataSourceLogger(dataSource, redactor);
  // A SQLite file that does not exist yet is not connected to here: that would create it, and status is read-only.
  if (!dataSource.isInitialized && missingSqliteFile(dataSource) === undefined) await connect(dataSource, file, redactor, unsetVariables);
  try {
    const options = resolveAutoMigratorOptions({ runMigrations: true, migrationTimeouts }, () => ({ value: undefined, source: 'cli' }));
    const plans = planDataSources(options, { find: (name) => (name === 'default' ? dataSource : undefined), names: () => ['default'] });
    const operations = MigrationOperations.create({
      plans,
      state: new MigrationStateStore(),
      logger: new Logger(AUTO_MIGRATOR_LOGGER_CONTEXT),
      redactor,
      control: new RunControl(),
      progressEveryMs: options.progressEveryMs,
      strategy: async () => new FailFastStrategy(),
    });
    return { redactor, operations, close: () => dataSource.destroy() };
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
}

/**
 * `--app <file>[#Export]`: a module exporting the application's root module (`AppModule` or the
 * named export), booted as a Nest application context (no HTTP server), so the application's own
 * options and strategy apply.
 */
export async function appTarget(spec: string, logger: CliLogger): Promise<CliTarget> {
  const hash = spec.lastIndexOf('#');
  const file = hash > 0 ? spec.slice(0, hash) : spec;
  const exportName = hash > 0 ? spec.slice(hash + 1) : undefined;
  const { exports } = await loadModuleFile(file, '--app');
  const root = exportName ? exports[exportName] : (exports['AppModule'] ?? exports['default']);
  if (!isModule(root)) {
    const exported = Object.keys(exports);
    const problem = !exportName
      ? 'exports neither an "AppModule" nor a default export that is a Nest module'
      : root === undefined
        ? `has no export "${exportName}"`
        : `exports "${exportName}", but it is not a Nest module (a class decorated with @Module)`;
    throw new AutoMigratorConfigError(
      `--app ${spec}: ${file} ${problem}. Its exports: ${exported.join(', ') || 'none'}. ` +
        `Name the root module's export after "#", e.g. --app dist/app.module.js#AppModule.`,
    );
  }
  // Bootstrap only validates; the command runs below. Said through the module's own DI: a global
  // provider around the application's root module, which AutoMigratorService injects.
  const cli: DynamicModule = {
    module: class AutoMigratorCliModule {},
    global: true,
    imports: [root],
    providers: [{ provide: AUTO_MIGRATOR_BOOTSTRAP, useValue: 'validate-only' satisfies AutoMigratorBootstrap }],
    exports: [AUTO_MIGRATOR_BOOTSTRAP],
  };
  const app: INestApplicationContext = await NestFactory.createApplicationContext(cli, { logger, abortOnError: false });
  let service: AutoMigratorService;
  try {
    service = app.get(AutoMigratorService, { strict: false });
  } catch (error) {
    await app.close();
    throw new AutoMigratorConfigError(
      `--app ${spec}: the application does not import AutoMigratorModule (or loads another copy of nestjs-auto-migrator than this CLI).`,
      { cause: error },
    );
  }
  return { redactor: service.redactor, operations: service, close: () => app.close() };
}

/** Initializes the file's DataSource; a failure says which DataSource, where it connects, and why. */
async function connect(dataSource: DataSource, file: string, redactor: SecretRedactor, unsetVariables: readonly string[]): Promise<void> {
  try {
    await dataSource.initialize();
  } catch (error) {
    redactor.scrub(error);
    // Entities loaded by the DataSource itself (a glob) without decorator metadata: not a connection failure.
    const missingMetadata = noDecoratorMetadata(`the DataSource exported by ${file}`, error);
    if (missingMetadata) throw missingMetadata;
    const target = describeConnectionTarget(dataSource.options);
    // Where the options name no server at all, the variables it read and found unset are the likely reason.
    const unset =
      unsetVariables.length > 0 && namesNoServer(dataSource.options)
        ? ` (while loading, ${file} read ${listNames(unsetVariables, UNSET_SHOWN)} from the environment, unset here: a .env file? pass --env-file <path>)`
        : '';
    throw new DataSourceConnectionError(
      `the DataSource exported by ${file} could not connect to ${redactor.redact(target)}: ${driverMessage(error, redactor)}${unset}`,
      file,
      target,
      { cause: error },
    );
  }
}

/** The error's message or, when it has none (an AggregateError of one failure per address), those of what it wraps. */
function driverMessage(error: unknown, redactor: SecretRedactor): string {
  const messages = [...errorChain(error)]
    .map((link) => link['message'])
    .filter((message): message is string => typeof message === 'string' && message !== '');
  const own = error instanceof Error && error.message !== '' ? error.message : undefined;
  return redactor.redact(own ?? ([...new Set(messages)].join('; ') || String(error)));
}

function isDataSource(value: unknown): value is DataSource {
  const candidate = value as Partial<DataSource> | null | undefined;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.initialize === 'function' &&
    typeof candidate.runMigrations === 'function' &&
    typeof candidate.options === 'object'
  );
}

function isModule(value: unknown): value is Type<unknown> | DynamicModule {
  return typeof value === 'function' || (typeof value === 'object' && value !== null && 'module' in value);
}
