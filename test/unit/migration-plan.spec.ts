import type { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { AutoMigratorConfigError } from '../../lib/index.js';
import { resolveAutoMigratorOptions } from '../../lib/options/resolve-options.js';
import { planDataSources, type DataSourceRegistry } from '../../lib/plan/migration-plan.js';

/** A registry over DataSource-shaped objects: planning reads only their options and migrations. */
function registry(dataSources: Record<string, Partial<DataSource>>): DataSourceRegistry {
  return {
    find: (name) => dataSources[name] as DataSource | undefined,
    names: () => Object.keys(dataSources),
  };
}
const options = (lock?: false) =>
  resolveAutoMigratorOptions({ runMigrations: true, ...(lock === false ? { lock } : {}) }, () => ({ value: undefined, source: 'test' }));
/** One migration, as TypeORM lists it once initialized. */
const migrations = [{ name: 'CreateUsers1700000000001', up: async () => {}, down: async () => {} }];

describe('planDataSources: the lock each DataSource gets', () => {
  it.each([
    ['postgres', {}, 'postgres'],
    ['mariadb', {}, 'mysql'],
    ['mysql', {}, 'mysql'],
    ['better-sqlite3', { database: '/var/lib/app/db.sqlite' }, 'sqlite-file'],
  ] as const)('%s gets the %s lock', (type, extra, kind) => {
    const [plan] = planDataSources(
      options(),
      registry({ default: { isInitialized: true, migrations, options: { type, ...extra } as never } }),
    );
    expect(plan?.lock).toEqual({ kind: expect.stringMatching(kind), settings: { timeoutMs: 600_000, logEveryMs: 5000, mode: 'auto' } });
  });

  it('an in-memory SQLite database needs none; lock: false gives none', () => {
    const memory = registry({
      default: { isInitialized: true, migrations, options: { type: 'better-sqlite3', database: ':memory:' } as never },
    });
    expect(planDataSources(options(), memory)[0]?.lock).toBeUndefined();
    const postgres = registry({ default: { isInitialized: true, migrations, options: { type: 'postgres' } as never } });
    expect(planDataSources(options(false), postgres)[0]?.lock).toBeUndefined();
  });

  it("lock.mode 'transaction' is PostgreSQL's only: on MariaDB it fails the boot, naming the option", () => {
    const transaction = resolveAutoMigratorOptions({ runMigrations: true, lock: { mode: 'transaction' } }, () => ({
      value: undefined,
      source: 'test',
    }));
    const mariadb = registry({ default: { isInitialized: true, migrations, options: { type: 'mariadb' } as never } });
    expect(() => planDataSources(transaction, mariadb)).toThrow(/type "mariadb"\): lock.mode 'transaction' exists for PostgreSQL only/);
    const postgres = registry({ default: { isInitialized: true, migrations, options: { type: 'postgres' } as never } });
    expect(planDataSources(transaction, postgres)[0]?.lock?.settings.mode).toBe('transaction');
  });

  it('a database type with no lock fails the boot, saying to set lock: false', () => {
    const mssql = registry({ default: { isInitialized: true, migrations, options: { type: 'mssql' } as never } });
    expect(() => planDataSources(options(), mssql)).toThrow(AutoMigratorConfigError);
    expect(() => planDataSources(options(), mssql)).toThrow(
      /DataSource "default" \(type "mssql"\): AutoMigratorModule has no cross-process migration lock for this database type .* Set the option lock: false/,
    );
    expect(planDataSources(options(false), mssql)[0]?.lock).toBeUndefined();
  });

  it('a DataSource not initialized yet (manualInitialization) is planned: it is connected when migrating', () => {
    const manual = registry({ default: { isInitialized: false, migrations: [], options: { type: 'postgres' } as never } });
    expect(planDataSources(options(), manual)[0]?.name).toBe('default');
  });
});

describe('planDataSources: a DataSource whose build resolves no migrations', () => {
  const resolve = (extra: object) =>
    resolveAutoMigratorOptions({ runMigrations: true, ...extra }, () => ({ value: undefined, source: 'test' }));
  const empty = registry({
    default: {
      isInitialized: true,
      migrations: [],
      options: { type: 'postgres', migrations: ['dist/migrations/*.js', class Seed1700000000009 {}] } as never,
    },
  });

  it('fails naming the DataSource, its migrations entries and the working directory', () => {
    expect(() => planDataSources(resolve({}), empty)).toThrow(AutoMigratorConfigError);
    const error = (() => {
      try {
        planDataSources(resolve({}), empty);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toContain('DataSource "default": no migrations found');
    expect(error?.message).toContain(
      `Its "migrations" option: "dist/migrations/*.js", class Seed1700000000009; working directory: ${process.cwd()}.`,
    );
    expect(error?.message).toContain("dataSources: [{ name: 'default', allowNoMigrations: true }]");
  });

  it('passes with allowNoMigrations: true for that DataSource', () => {
    expect(planDataSources(resolve({ dataSources: [{ name: 'default', allowNoMigrations: true }] }), empty)[0]?.allowNoMigrations).toBe(
      true,
    );
  });

  it('a migration whose name is a number fails naming the class, not with a TypeError', () => {
    class Numbered {
      name = 1700000000001 as unknown as string;
      async up() {}
      async down() {}
    }
    const numbered = registry({ default: { isInitialized: true, migrations: [new Numbered()], options: { type: 'postgres' } as never } });
    expect(() => planDataSources(resolve({}), numbered)).toThrow(AutoMigratorConfigError);
    expect(() => planDataSources(resolve({}), numbered)).toThrow(
      /DataSource "default": migration class Numbered has a "name" property that is not a string \(number 1700000000001\)/,
    );
  });
});

describe('planDataSources: migrationTimeouts within what the database takes', () => {
  const plan = (type: string, migrationTimeouts: object) =>
    planDataSources(
      resolveAutoMigratorOptions({ runMigrations: true, migrationTimeouts }, () => ({ value: undefined, source: 'test' })),
      registry({ default: { isInitialized: true, migrations, options: { type, database: '/tmp/x.sqlite' } as never } }),
    );

  it.each([
    [
      'postgres',
      { statementTimeoutMs: 1e12 },
      /DataSource "default" \(type "postgres"\): AutoMigratorModule option "migrationTimeouts.statementTimeoutMs" is 1000000000000 ms, more than PostgreSQL accepts: statement_timeout takes at most 2147483647 ms/,
    ],
    [
      'postgres',
      { lockTimeoutMs: 2 ** 31 },
      /option "migrationTimeouts.lockTimeoutMs" is 2147483648 ms, more than PostgreSQL accepts: lock_timeout takes at most 2147483647 ms/,
    ],
    [
      'mariadb',
      { statementTimeoutMs: 31_536_000_001 },
      /option "migrationTimeouts.statementTimeoutMs" is 31536000001 ms, more than MariaDB accepts: max_statement_time takes at most 31536000 s/,
    ],
    ['mariadb', { lockTimeoutMs: 1e12 }, /more than MariaDB accepts: lock_wait_timeout takes at most 31536000 s/],
    ['mysql', { statementTimeoutMs: 2 ** 32 }, /more than MySQL accepts: max_execution_time takes at most 4294967295 ms/],
  ] as const)('%s refuses %o', (type, timeouts, message) => {
    expect(() => plan(type, timeouts)).toThrow(AutoMigratorConfigError);
    expect(() => plan(type, timeouts)).toThrow(message);
  });

  it('the largest values each database takes pass, and SQLite (no session timeouts) ignores them', () => {
    expect(plan('postgres', { statementTimeoutMs: 2_147_483_647, lockTimeoutMs: 2_147_483_647 })).toHaveLength(1);
    expect(plan('mariadb', { statementTimeoutMs: 31_536_000_000, lockTimeoutMs: 31_536_000_000 })).toHaveLength(1);
    expect(plan('better-sqlite3', { statementTimeoutMs: 1e12 })).toHaveLength(1);
  });
});
