import { ConfigModule } from '@nestjs/config';
import { inspect, stripVTControlCharacters } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AutoMigratorModule, AutoMigratorService, PendingMigrationsError, type AutoMigratorOptionsFactory } from '../../lib/index.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { CreatePosts, CreateUsers, SeedAlice, defineMigration, sql } from '../support/migrations.js';
import { describeEachDatabase } from '../support/database-suite.js';
import { bootApp, type TestApp } from '../support/test-app.js';

const MIGRATIONS = [CreateUsers, SeedAlice, CreatePosts];
const NAMES = ['CreateUsers1700000000001', 'SeedAlice1700000000002', 'CreatePosts1700000000003'];

describeEachDatabase('bootstrap', (t) => {
  it('applies every pending migration when enabled, each recorded once, one log line each', async () => {
    t.app = await bootApp({ dataSources: [{ db: t.db, migrations: MIGRATIONS }], migrator: { runMigrations: true } });

    expect(await t.db.recorded()).toEqual(NAMES);
    expect(await t.db.tables()).toEqual(expect.arrayContaining(['users', 'posts', 'migrations']));
    expect(await t.db.query(`SELECT id, name FROM users`)).toEqual([{ id: 1, name: 'alice' }]);
    const state = t.app.app.get(AutoMigratorService).getState();
    expect(state).toMatchObject([{ dataSource: 'default', status: 'done', pending: 0, applied: NAMES }]);
    const perMigration = t.app.logger.messages('log').filter((line) => /\[\d\/3\] .* applied in \d+ ms/.test(line));
    expect(perMigration).toHaveLength(3);
    expect(t.app.logger.messages('log')).toContain(
      'DataSource "default": 3 migrations applied in ' +
        /(\d+) ms/.exec(t.app.logger.messages('log').find((l) => l.startsWith('DataSource "default": 3 migrations applied'))!)![1] +
        ' ms',
    );
  });

  it('40 pending migrations: the boot line and the PendingMigrationsError message show 10 and "… and 30 more"; the error field has all', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `Many${1700000001000 + i}`);
    const many = names.map((name) => defineMigration(name, sql('SELECT 1')));
    const verify = bootApp({ dataSources: [{ db: t.db, migrations: many }], migrator: { runMigrations: false, whenDisabled: 'verify' } });
    await expect(verify).rejects.toBeInstanceOf(PendingMigrationsError);
    await expect(verify).rejects.toMatchObject({
      pending: { default: names },
      message: expect.stringContaining(`DataSource "default": ${names.slice(0, 10).join(', ')} … and 30 more. Apply them first`),
    });

    t.app = await bootApp({ dataSources: [{ db: t.db, migrations: many }], migrator: { runMigrations: true } });
    expect(await t.db.recorded()).toEqual(names);
    const line = t.app.logger.messages('log').find((message) => message.includes('40 pending migrations'));
    expect(line).toBe(
      `DataSource "default": 40 pending migrations (transaction mode 'each'): ${names.slice(0, 10).join(', ')} … and 30 more`,
    );
  });

  it('runs nothing when disabled, and nothing on a second boot when all are applied', async () => {
    t.app = await bootApp({ dataSources: [{ db: t.db, migrations: MIGRATIONS }], migrator: { runMigrations: false } });
    expect(await t.db.tables()).toEqual([]);
    expect(t.app.app.get(AutoMigratorService).getState()).toMatchObject([{ status: 'disabled' }]);
    await t.app.close();

    t.app = await bootApp({ dataSources: [{ db: t.db, migrations: MIGRATIONS }], migrator: { runMigrations: 'yes' } });
    expect(await t.db.recorded()).toEqual(NAMES);
    await t.app.close();

    t.app = await bootApp({ dataSources: [{ db: t.db, migrations: MIGRATIONS }], migrator: { runMigrations: true } });
    expect(await t.db.recorded()).toEqual(NAMES);
    expect(t.app.logger.messages('log')).toContain('DataSource "default": no pending migrations');
    expect(t.app.logger.messages('log').some((line) => line.includes('applied in'))).toBe(false);
  });

  it('migrates two DataSources in the order given', async () => {
    const second = await createTestDatabase(t.kind);
    try {
      t.app = await bootApp({
        dataSources: [
          { db: t.db, migrations: [CreateUsers] },
          { name: 'reports', db: second, migrations: [CreatePosts] },
        ],
        migrator: { runMigrations: true, dataSources: ['reports', 'default'] },
      });
      expect(await t.db.recorded()).toEqual(['CreateUsers1700000000001']);
      expect(await second.recorded()).toEqual(['CreatePosts1700000000003']);
      const order = t.app.logger
        .messages('log')
        .filter((line) => / applied in /.test(line) && /^DataSource "\w+": 1 migration applied/.test(line))
        .map((line) => /^DataSource "(\w+)"/.exec(line)?.[1]);
      expect(order).toEqual(['reports', 'default']);
      expect(
        t.app.app
          .get(AutoMigratorService)
          .getState()
          .map((s) => [s.dataSource, s.status]),
      ).toEqual([
        ['reports', 'done'],
        ['default', 'done'],
      ]);
    } finally {
      await t.app?.close();
      t.app = undefined;
      await second.drop();
    }
  });

  it('a boot with nothing pending costs one query (the SELECT of the migrations table), and no lock', async () => {
    t.app = await bootApp({ dataSources: [{ db: t.db, migrations: MIGRATIONS }], migrator: { runMigrations: true } });
    await t.app.close();
    const queries: string[] = [];
    const counting = {
      logQuery: (query: string) => queries.push(query),
      logQueryError: () => undefined,
      logQuerySlow: () => undefined,
      logSchemaBuild: () => undefined,
      logMigration: () => undefined,
      log: () => undefined,
    };
    t.app = await bootApp({
      dataSources: [{ db: t.db, migrations: MIGRATIONS, options: { logger: counting } as never }],
      migrator: { runMigrations: true },
    });
    const ours = queries.filter((query) => /migrations|advisory|GET_LOCK|information_schema|sqlite_master/i.test(query));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatch(/^SELECT .* FROM .*migrations/);
  });
});

describe('RUN_MIGRATIONS from the environment (sqlite)', () => {
  let db: TestDatabase;
  let app: TestApp | undefined;
  const saved = process.env['RUN_MIGRATIONS'];
  beforeEach(async () => {
    db = await createTestDatabase('sqlite');
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await db.drop();
    if (saved === undefined) delete process.env['RUN_MIGRATIONS'];
    else process.env['RUN_MIGRATIONS'] = saved;
  });

  it('reads process.env.RUN_MIGRATIONS when the option is omitted', async () => {
    process.env['RUN_MIGRATIONS'] = ' ON ';
    app = await bootApp({ dataSources: [{ db, migrations: MIGRATIONS }], migrator: {} });
    expect(await db.recorded()).toEqual(NAMES);
    expect(app.logger.messages('log').some((line) => line.includes('process.env.RUN_MIGRATIONS'))).toBe(true);
  });

  it('treats an unset RUN_MIGRATIONS as off', async () => {
    delete process.env['RUN_MIGRATIONS'];
    app = await bootApp({ dataSources: [{ db, migrations: MIGRATIONS }], migrator: {} });
    expect(await db.recorded()).toEqual([]);
  });

  it('reads a custom key through ConfigService in forRootAsync', async () => {
    delete process.env['RUN_MIGRATIONS'];
    app = await bootApp({
      dataSources: [{ db, migrations: MIGRATIONS }],
      migrator: AutoMigratorModule.forRootAsync({
        imports: [ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ MIGRATE_ON_BOOT: 'true' })] })],
        useFactory: () => ({ runMigrationsKey: 'MIGRATE_ON_BOOT' }),
      }),
    });
    expect(await db.recorded()).toEqual(NAMES);
    expect(app.logger.messages('log').some((line) => line.includes('ConfigService "MIGRATE_ON_BOOT"'))).toBe(true);
  });

  it('forRootAsync with useClass and isGlobal', async () => {
    class MigratorOptions implements AutoMigratorOptionsFactory {
      createAutoMigratorOptions() {
        return { runMigrations: true, dataSources: [{ name: 'default', transaction: 'all' as const }] };
      }
    }
    app = await bootApp({
      dataSources: [{ db, migrations: MIGRATIONS }],
      migrator: AutoMigratorModule.forRootAsync({ useClass: MigratorOptions, isGlobal: true }),
    });
    expect(await db.recorded()).toEqual(NAMES);
    expect(app.logger.messages('log')).toContain(
      'DataSource "default": 3 pending migrations (transaction mode \'all\'): CreateUsers1700000000001, SeedAlice1700000000002, CreatePosts1700000000003',
    );
  });
});

describeEachDatabase("TypeORM's own logging on a fresh database", (t) => {
  it('logging: true prints no failed query: the first boot, status, and a boot with migrations disabled', async () => {
    const printed: string[] = [];
    // TypeORM's default logger writes to the console.
    for (const method of ['log', 'info', 'warn', 'error'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        printed.push(args.map((arg) => (typeof arg === 'string' ? arg : inspect(arg))).join(' '));
      });
    }
    try {
      const disabled = await bootApp({ dataSources: [{ db: t.db, migrations: [CreateUsers], options: { logging: true } }], migrator: {} });
      expect((await disabled.app.get(AutoMigratorService).status())[0]?.pending).toHaveLength(1);
      await disabled.close();
      t.app = await bootApp({ dataSources: [{ db: t.db, migrations: [CreateUsers], options: { logging: true } }] });
      expect(await t.db.recorded()).toEqual(['CreateUsers1700000000001']);
    } finally {
      vi.restoreAllMocks();
    }
    const output = stripVTControlCharacters(printed.join('\n'));
    // TypeORM really logged (its queries), and no failure.
    expect(output).toMatch(/query: /);
    expect(output).not.toMatch(/query failed|does not exist|doesn't exist|no such table/i);
  });
});
