import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import {
  DEFAULT_RUNNING_BUILDS_WINDOW_MS,
  DEFAULT_CONNECTION_CHECK_INTERVAL_MS,
  DEFAULT_CONNECTION_CHECK_TIMEOUT_MS,
  DEFAULT_LOCK_LOG_EVERY_MS,
  DEFAULT_LOCK_TIMEOUT_MS,
  DEFAULT_PENDING_CHECK_TTL_MS,
  DEFAULT_PROGRESS_EVERY_MS,
  DEFAULT_RUN_MIGRATIONS_KEY,
} from '../auto-migrator.constants.js';
import type { MigrationInterface } from 'typeorm';
import type { MigrationLockMode } from '../contracts/lock-contract.js';
import { isMigrationStrategy } from '../contracts/migration-strategy.js';
import type {
  AutoMigratorModuleOptions,
  MigrationRunMode,
  ResolvedAutoMigratorOptions,
  ResolvedConnectionCheckOptions,
  ResolvedDataSourceOptions,
  ResolvedLockOptions,
  ResolvedTenantOptions,
  MigrationHistoryPolicy,
  MigrationTimeoutOptions,
  ReadinessDetails,
  WhenDisabled,
  DeployCheckMode,
} from './auto-migrator-options.interface.js';
import type { MigrationTransactionMode } from '../contracts/migration-records.js';
import { parseRunMigrationsFlag } from './run-migrations-flag.js';

/** Reads one setting (from ConfigService or process.env); `source` names where it looked. */
export type SettingReader = (key: string) => { value: unknown; source: string };

/** Every option name, in documentation order. */
export const OPTION_KEYS: ReadonlyArray<keyof AutoMigratorModuleOptions> = [
  'dataSources',
  'runMigrations',
  'runMigrationsKey',
  'mode',
  'strategy',
  'pendingCheckTtlMs',
  'lock',
  'whenDisabled',
  'deployCheck',
  'runningBuilds',
  'outOfOrder',
  'unknownMigrations',
  'changedMigrations',
  'migrationTimeouts',
  'shutdownGraceMs',
  'connectionCheck',
  'readinessDetails',
  'progressEveryMs',
  'logger',
];
const TIMEOUT_KEYS: ReadonlyArray<string> = ['statementTimeoutMs', 'lockTimeoutMs'];
const READINESS_DETAILS: readonly ReadinessDetails[] = ['full', 'counts'];
const LOGGER_METHODS = ['log', 'error', 'warn'] as const;
const WHEN_DISABLED: readonly WhenDisabled[] = ['skip', 'verify', 'wait'];
const DEPLOY_CHECK_MODES: readonly DeployCheckMode[] = ['off', 'warn', 'fail'];
const HISTORY_POLICIES: readonly MigrationHistoryPolicy[] = ['warn', 'fail'];
const LOCK_KEYS: ReadonlyArray<string> = ['timeoutMs', 'logEveryMs', 'mode'];
const LOCK_MODES: readonly MigrationLockMode[] = ['auto', 'session', 'transaction'];
const CONNECTION_CHECK_KEYS: ReadonlyArray<string> = ['intervalMs', 'timeoutMs'];
const DATA_SOURCE_KEYS: ReadonlyArray<string> = ['name', 'transaction', 'tenants', 'allowNoMigrations'];
const TENANT_KEYS: ReadonlyArray<string> = [
  'list',
  'migrations',
  'createSchema',
  'concurrency',
  'migrationsTableName',
  'affectReadiness',
  'summaryTable',
];
/** Tenants migrated at once by default; see the tenant benchmark in bench/README.md. */
export const DEFAULT_TENANT_CONCURRENCY = 8;
/** The longest delay a Node.js timer takes (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;
const MODES: readonly MigrationRunMode[] = ['blocking', 'background'];
const TRANSACTION_MODES: readonly MigrationTransactionMode[] = ['all', 'each', 'none'];

/** Reads settings from `process.env`. */
export const readProcessEnv: SettingReader = (key) => ({
  value: process.env[key],
  source: `process.env.${key}`,
});

/**
 * Validates the module options once and returns one frozen object. Every problem throws an
 * {@link AutoMigratorConfigError} naming the option to fix.
 */
export function resolveAutoMigratorOptions(
  options: AutoMigratorModuleOptions | undefined,
  readSetting: SettingReader = readProcessEnv,
): ResolvedAutoMigratorOptions {
  const raw: AutoMigratorModuleOptions = options ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw configError('options', 'must be an object');
  }
  const unknownKeys = Object.keys(raw).filter((key) => !(OPTION_KEYS as string[]).includes(key));
  if (unknownKeys.length > 0) {
    throw new AutoMigratorConfigError(
      `AutoMigratorModule: unknown option${unknownKeys.length > 1 ? 's' : ''} ${unknownKeys
        .map((key) => `"${key}"`)
        .join(', ')}. Known options: ${OPTION_KEYS.join(', ')}.`,
    );
  }

  const runMigrationsKey = raw.runMigrationsKey ?? DEFAULT_RUN_MIGRATIONS_KEY;
  if (typeof runMigrationsKey !== 'string' || runMigrationsKey.trim() === '') {
    throw configError('runMigrationsKey', 'must be a non-empty string');
  }

  let runMigrations: boolean;
  let runMigrationsSource: string;
  if (raw.runMigrations !== undefined) {
    runMigrationsSource = 'option runMigrations';
    runMigrations = parseRunMigrationsFlag(raw.runMigrations, `AutoMigratorModule option "runMigrations"`);
  } else {
    const setting = readSetting(runMigrationsKey);
    runMigrationsSource = setting.source;
    runMigrations = parseRunMigrationsFlag(setting.value, setting.source);
  }

  const mode = oneOf(raw.mode, 'blocking', MODES, 'mode');

  const pendingCheckTtlMs = milliseconds(raw.pendingCheckTtlMs, DEFAULT_PENDING_CHECK_TTL_MS, 'pendingCheckTtlMs', 0, MAX_TIMER_MS);

  if (raw.strategy !== undefined && !isMigrationStrategy(raw.strategy)) {
    throw configError(
      'strategy',
      `must be a class extending MigrationStrategy, or an instance of one (an object with a migrate(context) method); got ${describe(raw.strategy)}`,
    );
  }

  return Object.freeze({
    dataSources: Object.freeze(resolveDataSources(raw.dataSources)),
    runMigrations,
    runMigrationsSource,
    mode,
    strategy: raw.strategy,
    pendingCheckTtlMs,
    lock: resolveLock(raw.lock),
    whenDisabled: oneOf(raw.whenDisabled, 'skip', WHEN_DISABLED, 'whenDisabled'),
    deployCheck: resolveDeployCheck(raw.deployCheck),
    runningBuilds: resolveRunningBuilds(raw.runningBuilds),
    outOfOrder: oneOf(raw.outOfOrder, 'warn', HISTORY_POLICIES, 'outOfOrder'),
    unknownMigrations: oneOf(raw.unknownMigrations, 'warn', HISTORY_POLICIES, 'unknownMigrations'),
    changedMigrations: oneOf(raw.changedMigrations, 'warn', HISTORY_POLICIES, 'changedMigrations'),
    migrationTimeouts: resolveTimeouts(raw.migrationTimeouts),
    shutdownGraceMs: milliseconds(raw.shutdownGraceMs, 10_000, 'shutdownGraceMs', 0, MAX_TIMER_MS),
    connectionCheck: resolveConnectionCheck(raw.connectionCheck),
    readinessDetails: oneOf(raw.readinessDetails, 'full', READINESS_DETAILS, 'readinessDetails'),
    progressEveryMs: milliseconds(raw.progressEveryMs, DEFAULT_PROGRESS_EVERY_MS, 'progressEveryMs', 0, MAX_TIMER_MS),
    logger: resolveLogger(raw.logger),
  });
}

function resolveDeployCheck(deployCheck: AutoMigratorModuleOptions['deployCheck']): ResolvedAutoMigratorOptions['deployCheck'] {
  if (deployCheck === undefined || typeof deployCheck === 'string') {
    return Object.freeze({ mode: oneOf(deployCheck, 'off', DEPLOY_CHECK_MODES, 'deployCheck') });
  }
  const record = objectOf(deployCheck, 'deployCheck', ['mode', 'snapshot'], `${quoteAll(DEPLOY_CHECK_MODES)} or `);
  if (record['mode'] === undefined)
    throw configError('deployCheck.mode', `is required in the object form: one of ${quoteAll(DEPLOY_CHECK_MODES)}`);
  const mode = oneOf(record['mode'], 'off', DEPLOY_CHECK_MODES, 'deployCheck.mode');
  const snapshot = record['snapshot'];
  if (snapshot !== undefined && (typeof snapshot !== 'string' || snapshot === '')) {
    throw configError(
      'deployCheck.snapshot',
      `must be the path of a snapshot file (auto-migrator snapshot --out <file>); got ${describe(snapshot)}`,
    );
  }
  return Object.freeze({ mode, ...(snapshot === undefined ? {} : { snapshot }) });
}

function resolveRunningBuilds(runningBuilds: AutoMigratorModuleOptions['runningBuilds']): ResolvedAutoMigratorOptions['runningBuilds'] {
  if (runningBuilds === undefined || runningBuilds === false) return false;
  if (runningBuilds === true) return Object.freeze({ windowMs: DEFAULT_RUNNING_BUILDS_WINDOW_MS });
  const record = objectOf(runningBuilds, 'runningBuilds', ['label', 'windowMs'], 'true, false or ');
  const label = record['label'];
  if (label !== undefined && (typeof label !== 'string' || label === ''))
    throw configError('runningBuilds.label', `must be a non-empty string; got ${describe(label)}`);
  const windowMs = milliseconds(record['windowMs'], DEFAULT_RUNNING_BUILDS_WINDOW_MS, 'runningBuilds.windowMs', 1);
  return Object.freeze({ windowMs, ...(label === undefined ? {} : { label }) });
}

function resolveTimeouts(timeouts: MigrationTimeoutOptions | undefined): Readonly<MigrationTimeoutOptions> {
  if (timeouts === undefined) return Object.freeze({});
  const record = objectOf(timeouts, 'migrationTimeouts', TIMEOUT_KEYS);
  const resolved: MigrationTimeoutOptions = {};
  for (const key of TIMEOUT_KEYS as Array<keyof MigrationTimeoutOptions>) {
    if (record[key] !== undefined) resolved[key] = milliseconds(record[key], 0, `migrationTimeouts.${key}`, 1);
  }
  return Object.freeze(resolved);
}

function resolveLogger(logger: AutoMigratorModuleOptions['logger']): AutoMigratorModuleOptions['logger'] {
  if (logger === undefined || logger === false) return logger;
  const record = logger as unknown as Record<string, unknown>;
  if (typeof logger !== 'object' || logger === null || LOGGER_METHODS.some((method) => typeof record[method] !== 'function')) {
    throw configError('logger', `must be a Nest LoggerService (with log, error and warn methods) or false; got ${describe(logger)}`);
  }
  return logger;
}

function oneOf<T extends string>(value: unknown, fallback: T, allowed: readonly T[], option: string): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    throw configError(option, `must be one of ${quoteAll(allowed)}; got ${show(value)}`);
  }
  return value as T;
}

function resolveLock(lock: AutoMigratorModuleOptions['lock']): ResolvedLockOptions | false {
  if (lock === false) return false;
  const settings = objectOf(lock ?? {}, 'lock', LOCK_KEYS, 'false or ');
  return Object.freeze({
    timeoutMs: milliseconds(settings['timeoutMs'], DEFAULT_LOCK_TIMEOUT_MS, 'lock.timeoutMs', 0),
    logEveryMs: milliseconds(settings['logEveryMs'], DEFAULT_LOCK_LOG_EVERY_MS, 'lock.logEveryMs', 1),
    mode: oneOf(settings['mode'], 'auto', LOCK_MODES, 'lock.mode'),
  });
}

function resolveConnectionCheck(check: AutoMigratorModuleOptions['connectionCheck']): ResolvedConnectionCheckOptions | false {
  if (check === false) return false;
  const settings = objectOf(check ?? {}, 'connectionCheck', CONNECTION_CHECK_KEYS, 'false or ');
  return Object.freeze({
    intervalMs: milliseconds(settings['intervalMs'], DEFAULT_CONNECTION_CHECK_INTERVAL_MS, 'connectionCheck.intervalMs', 100),
    timeoutMs: milliseconds(settings['timeoutMs'], DEFAULT_CONNECTION_CHECK_TIMEOUT_MS, 'connectionCheck.timeoutMs', 100),
  });
}

function milliseconds(value: unknown, fallback: number, option: string, minimum: number, maximum?: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isFinite(resolved) || resolved < minimum) {
    throw configError(option, `must be a number of milliseconds >= ${minimum}; got ${show(resolved)}`);
  }
  if (maximum !== undefined && resolved > maximum) {
    throw configError(
      option,
      `must be a number of milliseconds from ${minimum} to ${maximum} (the longest a Node.js timer waits, about 24.8 days); got ${show(resolved)}`,
    );
  }
  return resolved;
}

function resolveDataSources(entries: AutoMigratorModuleOptions['dataSources']): ResolvedDataSourceOptions[] {
  if (entries === undefined)
    return [Object.freeze({ name: 'default', transaction: undefined, tenants: undefined, allowNoMigrations: undefined })];
  if (!Array.isArray(entries)) {
    throw configError(
      'dataSources',
      `must be an array of DataSource names or objects { ${DATA_SOURCE_KEYS.join(', ')} }; got ${describe(entries)}`,
    );
  }
  if (entries.length === 0) {
    throw configError(
      'dataSources',
      `is empty; list at least one DataSource name (the unnamed TypeOrmModule registration is 'default'), or omit the option`,
    );
  }
  const seen = new Set<string>();
  return entries.map((entry: unknown, index) => {
    const where = `dataSources[${index}]`;
    const resolved = resolveDataSourceEntry(entry, where);
    if (seen.has(resolved.name)) {
      throw configError(where, `names DataSource "${resolved.name}" a second time; list each DataSource once`);
    }
    seen.add(resolved.name);
    return Object.freeze(resolved);
  });
}

function resolveDataSourceEntry(entry: unknown, where: string): ResolvedDataSourceOptions {
  if (typeof entry === 'string') {
    return { name: checkName(entry, where), transaction: undefined, tenants: undefined, allowNoMigrations: undefined };
  }
  const record = objectOf(entry, where, DATA_SOURCE_KEYS, 'a DataSource name or ');
  const name = checkName(record['name'], `${where}.name`);
  const transaction = record['transaction'];
  return {
    name,
    transaction: transaction === undefined ? undefined : oneOf(transaction, 'each', TRANSACTION_MODES, `${where}.transaction`),
    tenants: record['tenants'] === undefined ? undefined : resolveTenants(record['tenants'], `${where}.tenants`),
    // undefined (the default) means false; only `true` is stored.
    allowNoMigrations: flag(record['allowNoMigrations'], false, `${where}.allowNoMigrations`) || undefined,
  };
}

function resolveTenants(value: unknown, where: string): ResolvedTenantOptions {
  const record = objectOf(value, where, TENANT_KEYS);
  const list = record['list'];
  if (typeof list !== 'function') {
    throw configError(
      `${where}.list`,
      `must be a function returning the tenant names, or a class extending TenantSource; got ${describe(list)}`,
    );
  }
  const migrations = record['migrations'];
  if (!Array.isArray(migrations)) {
    throw configError(`${where}.migrations`, `must be an array of migration classes or instances; got ${describe(migrations)}`);
  }
  const instances = migrations.map((migration: unknown, index) => {
    const instance: unknown = typeof migration === 'function' ? new (migration as new () => unknown)() : migration;
    if (typeof instance !== 'object' || instance === null || typeof (instance as { up?: unknown }).up !== 'function') {
      throw configError(
        `${where}.migrations[${index}]`,
        `is not a migration (a class or object with up() and down()); got ${describe(migration)}`,
      );
    }
    return instance as MigrationInterface;
  });
  if (instances.length === 0) {
    throw configError(
      `${where}.migrations`,
      `is empty: tenants get no tables. List the tenant migration classes (they are not loaded from a glob), or remove "tenants"`,
    );
  }
  const concurrency = record['concurrency'] ?? DEFAULT_TENANT_CONCURRENCY;
  if (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1) {
    throw configError(`${where}.concurrency`, `must be an integer >= 1; got ${show(concurrency)}`);
  }
  const table = record['migrationsTableName'];
  if (table !== undefined && (typeof table !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table))) {
    throw configError(`${where}.migrationsTableName`, `must be a plain table name (letters, digits, "_"); got ${JSON.stringify(table)}`);
  }
  return Object.freeze({
    list: list as ResolvedTenantOptions['list'],
    migrations: Object.freeze(instances),
    createSchema: flag(record['createSchema'], true, `${where}.createSchema`),
    concurrency,
    migrationsTableName: table as string | undefined,
    affectReadiness: flag(record['affectReadiness'], true, `${where}.affectReadiness`),
    summaryTable: flag(record['summaryTable'], true, `${where}.summaryTable`),
  });
}

/**
 * `value` as an object whose keys are all in `keys`; else the error says what the option takes
 * (`alternatives`, e.g. "false or ", then the object with its keys) or which keys are unknown.
 */
function objectOf(value: unknown, option: string, keys: readonly string[], alternatives = ''): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw configError(option, `must be ${alternatives}an object { ${keys.join(', ')} }; got ${describe(value)}`);
  }
  const unknownKeys = Object.keys(value).filter((key) => !keys.includes(key));
  if (unknownKeys.length > 0) throw configError(option, `has unknown key(s) ${quoteAll(unknownKeys)}; known keys: ${keys.join(', ')}`);
  return value as Record<string, unknown>;
}

function flag(value: unknown, fallback: boolean, option: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw configError(option, `must be true or false; got ${show(value)}`);
  return value;
}

function checkName(name: unknown, where: string): string {
  if (typeof name !== 'string' || name.trim() === '') {
    throw configError(where, `must be a non-empty DataSource name; got ${describe(name)}`);
  }
  return name;
}

function configError(option: string, problem: string): AutoMigratorConfigError {
  return new AutoMigratorConfigError(`AutoMigratorModule option "${option}" ${problem}.`);
}

function quoteAll(values: readonly string[]): string {
  return values.map((value) => `'${value}'`).join(', ');
}

/** A value as given, for an error message: unlike JSON.stringify, NaN and Infinity stay themselves. */
function show(value: unknown): string {
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'bigint') return `${value}n`;
  return JSON.stringify(value) ?? String(value);
}

function describe(value: unknown): string {
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (typeof value === 'object' && value !== null) return `an object of class ${value.constructor?.name ?? 'Object'}`;
  return show(value);
}
