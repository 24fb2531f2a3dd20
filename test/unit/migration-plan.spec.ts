import type { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { AutoMigratorConfigError, resolveAutoMigratorOptions } from '../../lib/index.js';
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

describe('planDataSources: the lock each DataSource gets', () => {
  it.each([
    ['postgres', {}, 'postgres'],
    ['mariadb', {}, 'mysql'],
    ['mysql', {}, 'mysql'],
    ['better-sqlite3', { database: '/var/lib/app/db.sqlite' }, 'sqlite-file'],
  ] as const)('%s gets the %s lock', (type, extra, kind) => {
    const [plan] = planDataSources(options(), registry({ default: { isInitialized: true, migrations: [], options: { type, ...extra } as never } }));
    expect(plan?.lock).toEqual({ kind: expect.stringMatching(kind), settings: { timeoutMs: 600_000, logEveryMs: 5000 } });
  });

  it('an in-memory SQLite database needs none; lock: false gives none', () => {
    const memory = registry({ default: { isInitialized: true, migrations: [], options: { type: 'better-sqlite3', database: ':memory:' } as never } });
    expect(planDataSources(options(), memory)[0]?.lock).toBeUndefined();
    const postgres = registry({ default: { isInitialized: true, migrations: [], options: { type: 'postgres' } as never } });
    expect(planDataSources(options(false), postgres)[0]?.lock).toBeUndefined();
  });

  it('a database type with no lock fails the boot, saying to set lock: false', () => {
    const mssql = registry({ default: { isInitialized: true, migrations: [], options: { type: 'mssql' } as never } });
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
