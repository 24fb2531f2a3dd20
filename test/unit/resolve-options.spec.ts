import { describe, expect, it } from 'vitest';
import { AutoMigratorConfigError, FailFastStrategy, RetryStrategy, type AutoMigratorModuleOptions } from '../../lib/index.js';
import { resolveAutoMigratorOptions } from '../../lib/options/resolve-options.js';

const env = (values: Record<string, string>) => (key: string) => ({ value: values[key], source: `env ${key}` });

describe('resolveAutoMigratorOptions', () => {
  it('applies the defaults', () => {
    const resolved = resolveAutoMigratorOptions({}, env({}));
    expect(resolved).toEqual({
      dataSources: [{ name: 'default', transaction: undefined }],
      runMigrations: false,
      runMigrationsSource: 'env RUN_MIGRATIONS',
      mode: 'blocking',
      strategy: undefined,
      pendingCheckTtlMs: 5000,
      lock: { timeoutMs: 600_000, logEveryMs: 5000, mode: 'auto' },
      whenDisabled: 'skip',
      deployCheck: { mode: 'off' },
      runningBuilds: false,
      outOfOrder: 'warn',
      unknownMigrations: 'warn',
      changedMigrations: 'warn',
      migrationTimeouts: {},
      shutdownGraceMs: 10_000,
      connectionCheck: { intervalMs: 5000, timeoutMs: 15_000 },
      readinessDetails: 'full',
      progressEveryMs: 10_000,
      logger: undefined,
    });
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(Object.isFrozen(resolved.dataSources)).toBe(true);
    expect(Object.isFrozen(resolved.dataSources[0])).toBe(true);
  });

  it('reads the configured key; the option wins over the setting', () => {
    expect(resolveAutoMigratorOptions({ runMigrationsKey: 'MIGRATE' }, env({ MIGRATE: 'yes' })).runMigrations).toBe(true);
    const explicit = resolveAutoMigratorOptions({ runMigrations: 'off' }, env({ RUN_MIGRATIONS: 'true' }));
    expect(explicit.runMigrations).toBe(false);
    expect(explicit.runMigrationsSource).toBe('option runMigrations');
  });

  it('normalises dataSources entries and keeps their order', () => {
    const resolved = resolveAutoMigratorOptions({ dataSources: ['b', { name: 'a', transaction: 'all' }, { name: 'c' }] }, env({}));
    expect(resolved.dataSources).toEqual([
      { name: 'b', transaction: undefined },
      { name: 'a', transaction: 'all' },
      { name: 'c', transaction: undefined },
    ]);
  });

  it('allowNoMigrations: true is kept per DataSource entry; false and absent both mean no', () => {
    const resolved = resolveAutoMigratorOptions(
      { dataSources: [{ name: 'a', allowNoMigrations: true }, { name: 'b', allowNoMigrations: false }, 'c'] },
      env({}),
    );
    expect(resolved.dataSources.map((entry) => entry.allowNoMigrations)).toEqual([true, undefined, undefined]);
  });

  it('lock: false turns the lock off; partial settings keep the other default', () => {
    expect(resolveAutoMigratorOptions({ lock: false }, env({})).lock).toBe(false);
    expect(resolveAutoMigratorOptions({ lock: { timeoutMs: 1000 } }, env({})).lock).toEqual({
      timeoutMs: 1000,
      logEveryMs: 5000,
      mode: 'auto',
    });
    expect(resolveAutoMigratorOptions({ lock: { mode: 'transaction' } }, env({})).lock).toEqual({
      timeoutMs: 600_000,
      logEveryMs: 5000,
      mode: 'transaction',
    });
  });

  it('connectionCheck: false turns the check off; partial settings keep the other default; bad values name the option', () => {
    expect(resolveAutoMigratorOptions({ connectionCheck: false }, env({})).connectionCheck).toBe(false);
    expect(resolveAutoMigratorOptions({ connectionCheck: { timeoutMs: 3000 } }, env({})).connectionCheck).toEqual({
      intervalMs: 5000,
      timeoutMs: 3000,
    });
    expect(() => resolveAutoMigratorOptions({ connectionCheck: { intervalMs: 0 } }, env({}))).toThrow(
      /"connectionCheck\.intervalMs" must be a number of milliseconds >= 100/,
    );
    expect(() => resolveAutoMigratorOptions({ connectionCheck: { everyMs: 1 } as never }, env({}))).toThrow(
      /"connectionCheck" has unknown key\(s\) 'everyMs'/,
    );
  });

  it('accepts a strategy class or instance', () => {
    expect(resolveAutoMigratorOptions({ strategy: FailFastStrategy }, env({})).strategy).toBe(FailFastStrategy);
    const retry = new RetryStrategy();
    expect(resolveAutoMigratorOptions({ strategy: retry }, env({})).strategy).toBe(retry);
  });

  class TenantMigration1700000000001 {
    async up() {}
    async down() {}
  }
  const bad: Array<[string, AutoMigratorModuleOptions, RegExp]> = [
    ['empty dataSources', { dataSources: [] }, /option "dataSources" is empty/],
    ['dataSources not an array', { dataSources: 'default' as never }, /option "dataSources" must be an array/],
    ['blank name', { dataSources: [' '] }, /option "dataSources\[0\]" must be a non-empty DataSource name/],
    ['duplicate name', { dataSources: ['a', { name: 'a' }] }, /option "dataSources\[1\]" names DataSource "a" a second time/],
    [
      'bad transaction',
      { dataSources: [{ name: 'a', transaction: 'some' as never }] },
      /option "dataSources\[0\]\.transaction" must be one of 'all', 'each', 'none'; got "some"/,
    ],
    ['unknown entry key', { dataSources: [{ name: 'a', tx: 'all' } as never] }, /option "dataSources\[0\]" has unknown key\(s\) 'tx'/],
    ['unknown option', { runMigration: true } as never, /unknown option "runMigration"/],
    ['bad mode', { mode: 'async' as never }, /option "mode" must be one of 'blocking', 'background'; got "async"/],
    ['bad runMigrations', { runMigrations: 'sometimes' }, /option "runMigrations" has the value "sometimes"/],
    ['bad ttl', { pendingCheckTtlMs: -1 }, /option "pendingCheckTtlMs" must be a number of milliseconds >= 0; got -1/],
    [
      'tenants not an object (the message lists every key it takes)',
      { dataSources: [{ name: 'default', tenants: 'acme' as never }] },
      /option "dataSources\[0\]\.tenants" must be an object \{ list, migrations, createSchema, concurrency, migrationsTableName, affectReadiness, summaryTable \}; got "acme"/,
    ],
    [
      'a dataSources entry neither a name nor an object',
      { dataSources: [42 as never] },
      /option "dataSources\[0\]" must be a DataSource name or an object \{ name, transaction, tenants, allowNoMigrations \}; got 42/,
    ],
    [
      'bad progressEveryMs',
      { progressEveryMs: 'often' as never },
      /option "progressEveryMs" must be a number of milliseconds >= 0; got "often"/,
    ],
    ['empty key', { runMigrationsKey: '' }, /option "runMigrationsKey" must be a non-empty string/],
    ['lock not an object', { lock: true as never }, /option "lock" must be false or an object \{ timeoutMs, logEveryMs, mode \}; got true/],
    [
      'lock unknown key',
      { lock: { timeout: 5 } as never },
      /option "lock" has unknown key\(s\) 'timeout'; known keys: timeoutMs, logEveryMs, mode/,
    ],
    [
      'lock bad mode',
      { lock: { mode: 'lease' as never } },
      /option "lock.mode" must be one of 'auto', 'session', 'transaction'; got "lease"/,
    ],
    ['lock negative timeout', { lock: { timeoutMs: -5 } }, /option "lock.timeoutMs" must be a number of milliseconds >= 0; got -5/],
    ['lock zero log interval', { lock: { logEveryMs: 0 } }, /option "lock.logEveryMs" must be a number of milliseconds >= 1; got 0/],
    ['bad whenDisabled', { whenDisabled: 'block' as never }, /option "whenDisabled" must be one of 'skip', 'verify', 'wait'; got "block"/],
    ['bad outOfOrder', { outOfOrder: 'allow' as never }, /option "outOfOrder" must be one of 'warn', 'fail'; got "allow"/],
    ['bad unknownMigrations', { unknownMigrations: true as never }, /option "unknownMigrations" must be one of 'warn', 'fail'; got true/],
    [
      'bad migrationTimeouts key',
      { migrationTimeouts: { statement: 5 } as never },
      /option "migrationTimeouts" has unknown key\(s\) 'statement'; known keys: statementTimeoutMs, lockTimeoutMs/,
    ],
    [
      'zero lock timeout',
      { migrationTimeouts: { lockTimeoutMs: 0 } },
      /option "migrationTimeouts.lockTimeoutMs" must be a number of milliseconds >= 1; got 0/,
    ],
    ['negative grace', { shutdownGraceMs: -1 }, /option "shutdownGraceMs" must be a number of milliseconds >= 0; got -1/],
    [
      'bad readinessDetails',
      { readinessDetails: 'names' as never },
      /option "readinessDetails" must be one of 'full', 'counts'; got "names"/,
    ],
    [
      'logger without methods',
      { logger: { log() {} } as never },
      /option "logger" must be a Nest LoggerService \(with log, error and warn methods\) or false/,
    ],
    [
      'strategy not a strategy',
      { strategy: {} as never },
      /option "strategy" must be a class extending MigrationStrategy.*got an object of class Object/,
    ],
    // The value as given: JSON.stringify would print null for NaN and Infinity.
    ['NaN lock timeout', { lock: { timeoutMs: NaN } }, /option "lock.timeoutMs" must be a number of milliseconds >= 0; got NaN\.$/],
    ['infinite grace', { shutdownGraceMs: Infinity }, /option "shutdownGraceMs" must be a number of milliseconds >= 0; got Infinity\.$/],
    [
      '-Infinity statement timeout',
      { migrationTimeouts: { statementTimeoutMs: -Infinity } },
      /option "migrationTimeouts.statementTimeoutMs" must be a number of milliseconds >= 1; got -Infinity\.$/,
    ],
    [
      'NaN tenant concurrency',
      {
        dataSources: [
          {
            name: 'a',
            tenants: {
              list: () => [],
              migrations: [TenantMigration1700000000001],
              concurrency: NaN,
            },
          },
        ],
      },
      /option "dataSources\[0\]\.tenants\.concurrency" must be an integer >= 1; got NaN\.$/,
    ],
    // Longer than a Node.js timer waits: setTimeout would fire at once.
    [
      'grace beyond a timer',
      { shutdownGraceMs: 2 ** 31 },
      /option "shutdownGraceMs" must be a number of milliseconds from 0 to 2147483647 \(the longest a Node.js timer waits, about 24.8 days\); got 2147483648/,
    ],
    [
      'ttl beyond a timer',
      { pendingCheckTtlMs: 1e12 },
      /option "pendingCheckTtlMs" must be a number of milliseconds from 0 to 2147483647 .*; got 1000000000000/,
    ],
    [
      'allowNoMigrations not a boolean',
      { dataSources: [{ name: 'a', allowNoMigrations: 'yes' as never }] },
      /option "dataSources\[0\]\.allowNoMigrations" must be true or false; got "yes"/,
    ],
    [
      'summaryTable not a boolean',
      {
        dataSources: [
          {
            name: 'a',
            tenants: {
              list: () => [],
              migrations: [TenantMigration1700000000001],
              summaryTable: 'no' as never,
            },
          },
        ],
      },
      /option "dataSources\[0\]\.tenants\.summaryTable" must be true or false; got "no"/,
    ],
    [
      'deployCheck not a mode',
      { deployCheck: 'strict' as never },
      /option "deployCheck" must be one of 'off', 'warn', 'fail'; got "strict"/,
    ],
    [
      'deployCheck object without a mode',
      { deployCheck: { snapshot: 'release.json' } as never },
      /option "deployCheck\.mode" is required in the object form/,
    ],
    [
      'deployCheck with an unknown key',
      { deployCheck: { mode: 'warn', file: 'x' } as never },
      /option "deployCheck" has unknown key\(s\) 'file'; known keys: mode, snapshot/,
    ],
    [
      'deployCheck snapshot not a path',
      { deployCheck: { mode: 'fail', snapshot: 3 as never } },
      /option "deployCheck\.snapshot" must be the path of a snapshot file/,
    ],
    [
      'runningBuilds with an unknown key',
      { runningBuilds: { window: 5 } as never },
      /option "runningBuilds" has unknown key\(s\) 'window'; known keys: label, windowMs/,
    ],
    [
      'runningBuilds window not positive',
      { runningBuilds: { windowMs: 0 } },
      /option "runningBuilds\.windowMs" must be a number of milliseconds >= 1; got 0/,
    ],
    ['runningBuilds label empty', { runningBuilds: { label: '' } }, /option "runningBuilds\.label" must be a non-empty string/],
    [
      'no tenant migrations',
      { dataSources: [{ name: 'a', tenants: { list: () => [], migrations: [] } }] },
      /option "dataSources\[0\]\.tenants\.migrations" is empty: tenants get no tables/,
    ],
  ];
  it.each(bad)('%s fails naming the option', (_name, options, message) => {
    expect(() => resolveAutoMigratorOptions(options, env({}))).toThrow(AutoMigratorConfigError);
    expect(() => resolveAutoMigratorOptions(options, env({}))).toThrow(message);
  });
});
