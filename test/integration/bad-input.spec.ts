import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AutoMigratorConfigError, AutoMigratorModule, AutoMigratorService, type AutoMigratorModuleOptions } from '../../lib/index.js';
import { describeEachDatabase } from '../support/database-suite.js';
import { createTestDatabase, type DbKind, type TestDatabase } from '../support/databases.js';
import { startNode } from '../support/processes.js';
import { CreateUsers, defineMigration, SeedAlice, sql } from '../support/migrations.js';
import { bootApp, waitFor, type TestApp, type TestDataSource } from '../support/test-app.js';

@Injectable()
class NotAStrategy {
  run() {}
}

describe.each(['sqlite', 'postgres'] as const satisfies readonly DbKind[])(
  'bad input on %s: the boot fails naming the problem, nothing runs',
  (kind) => {
    let db: TestDatabase;
    beforeEach(async () => {
      db = await createTestDatabase(kind);
    });
    afterEach(async () => {
      await db.drop();
    });

    async function expectBootFailure(
      message: RegExp,
      migrator: AutoMigratorModuleOptions | ReturnType<typeof AutoMigratorModule.forRootAsync>,
      dataSources: TestDataSource[] = [{ db, migrations: [CreateUsers, SeedAlice] }],
    ) {
      const boot = bootApp({ dataSources, migrator });
      await expect(boot).rejects.toBeInstanceOf(AutoMigratorConfigError);
      await expect(boot).rejects.toThrow(message);
      // Nothing ran: not even the migrations table was created.
      expect(await db.tables()).toEqual([]);
    }

    it('RUN_MIGRATIONS=maybe lists the accepted words', async () => {
      const saved = process.env['RUN_MIGRATIONS'];
      process.env['RUN_MIGRATIONS'] = 'maybe';
      try {
        await expectBootFailure(
          /process\.env\.RUN_MIGRATIONS has the value "maybe".*true, 1, yes, on.*false, 0, no, off, empty or unset/,
          {},
        );
      } finally {
        if (saved === undefined) delete process.env['RUN_MIGRATIONS'];
        else process.env['RUN_MIGRATIONS'] = saved;
      }
    });

    it('a dataSources entry that is not registered lists the registered names', async () => {
      const other = await createTestDatabase('sqlite');
      try {
        await expectBootFailure(
          /names DataSource "reporting", which is not registered with TypeOrmModule\. Registered: "default", "analytics"\./,
          { runMigrations: true, dataSources: ['default', 'reporting'] },
          [
            { db, migrations: [CreateUsers] },
            { name: 'analytics', db: other, migrations: [] },
          ],
        );
      } finally {
        await other.drop();
      }
    });

    it('an empty dataSources', async () => {
      await expectBootFailure(/option "dataSources" is empty/, { runMigrations: true, dataSources: [] });
    });

    it('an unknown option and a bad mode name the option', async () => {
      await expectBootFailure(/unknown option "runMigration"\. Known options: dataSources, runMigrations/, {
        runMigration: true,
      } as AutoMigratorModuleOptions);
      await expectBootFailure(/option "mode" must be one of 'blocking', 'background'; got "fast"/, {
        runMigrations: true,
        mode: 'fast',
      } as unknown as AutoMigratorModuleOptions);
    });

    it('a migration whose name does not end in a 13-digit timestamp', async () => {
      const Unstamped = defineMigration('AddIndex123', sql('CREATE INDEX users_name ON users (name)'));
      await expectBootFailure(/migration "AddIndex123" must end in a 13-digit millisecond timestamp/, { runMigrations: true }, [
        { db, migrations: [CreateUsers, Unstamped] },
      ]);
    });

    it('two migrations with the same name', async () => {
      const Twin = defineMigration('CreateUsers1700000000001', sql('SELECT 1'));
      await expectBootFailure(/two migrations are named "CreateUsers1700000000001"/, { runMigrations: true }, [
        { db, migrations: [CreateUsers, Twin] },
      ]);
    });

    // The quick start's glob, relative to the working directory, started from another one: it finds nothing.
    const NOWHERE = 'dist/no-such-directory/migrations/*.js';
    const nothingFound = new RegExp(
      `DataSource "default": no migrations found\\. Its "migrations" option: "dist/no-such-directory/migrations/\\*\\.js"; working directory: ${process.cwd().replaceAll('/', '\\/')}\\..*allowNoMigrations: true`,
    );

    it('migrations that resolve to none fail the boot in every mode (blocking, background, skip, verify, wait)', async () => {
      const modes: AutoMigratorModuleOptions[] = [
        { runMigrations: true },
        { runMigrations: true, mode: 'background' },
        { runMigrations: false, whenDisabled: 'skip' },
        { runMigrations: false, whenDisabled: 'verify' },
        { runMigrations: false, whenDisabled: 'wait' },
      ];
      for (const migrator of modes) {
        await expectBootFailure(nothingFound, migrator, [{ db, migrations: [NOWHERE] as never }]);
      }
    });

    it('allowNoMigrations: true says that DataSource really has none: it boots and is ready', async () => {
      const app = await bootApp({
        dataSources: [{ db, migrations: [NOWHERE] as never }],
        migrator: { runMigrations: true, dataSources: [{ name: 'default', allowNoMigrations: true }] },
      });
      try {
        expect((await app.app.get(AutoMigratorService).getReadiness()).ready).toBe(true);
      } finally {
        await app.close();
      }
    });

    it('manualInitialization: none found when connecting late fails the run; readiness stays down in background and skip', async () => {
      const manual: TestDataSource[] = [{ db, migrations: [NOWHERE] as never, options: { manualInitialization: true } as never }];
      await expect(bootApp({ dataSources: manual, migrator: { runMigrations: true } })).rejects.toThrow(nothingFound);

      const apps: TestApp[] = [];
      try {
        const background = await bootApp({ dataSources: manual, migrator: { runMigrations: true, mode: 'background' } });
        apps.push(background);
        const service = background.app.get(AutoMigratorService);
        await service.whenFinished();
        expect(service.getState()[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(nothingFound) });
        // Asked twice: the DataSource is initialized after the first attempt, and still has none.
        for (let i = 0; i < 2; i++) {
          const readiness = await service.getReadiness();
          expect(readiness.ready).toBe(false);
          expect(readiness.dataSources['default']?.error).toMatch(nothingFound);
        }

        const skip = await bootApp({ dataSources: manual, migrator: { runMigrations: false, whenDisabled: 'skip', pendingCheckTtlMs: 0 } });
        apps.push(skip);
        for (let i = 0; i < 2; i++) {
          const readiness = await waitFor(() => skip.app.get(AutoMigratorService).getReadiness(), 5_000, 'readiness');
          expect(readiness.ready).toBe(false);
          expect(readiness.dataSources['default']?.error).toMatch(nothingFound);
        }
      } finally {
        for (const app of apps) await app.close();
      }
      expect(await db.tables()).toEqual([]);
    });

    it('a migration whose name is a number', async () => {
      class Numbered {
        name = 1700000000001 as unknown as string;
        async up() {}
        async down() {}
      }
      await expectBootFailure(
        /migration class Numbered has a "name" property that is not a string \(number 1700000000001\)/,
        { runMigrations: true },
        [{ db, migrations: [CreateUsers, Numbered] }],
      );
    });

    it('lock.timeoutMs: NaN and shutdownGraceMs: Infinity print the value given', async () => {
      await expectBootFailure(/option "lock.timeoutMs" must be a number of milliseconds >= 0; got NaN\./, {
        runMigrations: true,
        lock: { timeoutMs: NaN },
      });
      await expectBootFailure(/option "shutdownGraceMs" must be a number of milliseconds >= 0; got Infinity\./, {
        runMigrations: true,
        shutdownGraceMs: Infinity,
      });
    });

    it('a strategy that is not a MigrationStrategy, as class, as object and as provider', async () => {
      await expectBootFailure(/option "strategy" must be a class extending MigrationStrategy.*got function NotAStrategy/, {
        runMigrations: true,
        strategy: NotAStrategy as never,
      });
      await expectBootFailure(/option "strategy" must be a class extending MigrationStrategy.*got "fail-fast"/, {
        runMigrations: true,
        strategy: 'fail-fast' as never,
      });
      await expectBootFailure(
        /The MigrationStrategy provider is not a MigrationStrategy/,
        AutoMigratorModule.forRootAsync({
          useFactory: () => ({ runMigrations: true }),
          extraProviders: [{ provide: (await import('../../lib/index.js')).MigrationStrategy, useClass: NotAStrategy }],
        }),
      );
    });

    it('a strategy class whose dependencies the module cannot see says how to provide them', async () => {
      @Injectable()
      class BackupService {}
      const { MigrationStrategy } = await import('../../lib/index.js');
      @Injectable()
      class NeedsBackup extends MigrationStrategy {
        constructor(readonly backups: BackupService) {
          super();
        }
        async migrate() {}
      }
      await expectBootFailure(/option "strategy": NeedsBackup could not be instantiated.*extraProviders/, {
        runMigrations: true,
        strategy: NeedsBackup,
      });
    });
  },
);

describe('bad input on postgres that only the database kind or the tenants list reveals', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase('postgres');
  });
  afterEach(async () => {
    await db.drop();
  });

  it('migrationTimeouts.statementTimeoutMs: 1e12 fails the boot naming the limit, before connecting to migrate', async () => {
    const boot = bootApp({
      dataSources: [{ db, migrations: [CreateUsers] }],
      migrator: { runMigrations: true, migrationTimeouts: { statementTimeoutMs: 1e12 } },
    });
    await expect(boot).rejects.toBeInstanceOf(AutoMigratorConfigError);
    await expect(boot).rejects.toThrow(
      /DataSource "default" \(type "postgres"\): AutoMigratorModule option "migrationTimeouts.statementTimeoutMs" is 1000000000000 ms, more than PostgreSQL accepts: statement_timeout takes at most 2147483647 ms/,
    );
    expect(await db.tables()).toEqual([]);
  });

  it('tenants.list returning a string, and tenants.migrations empty', async () => {
    const TenantsOrders = defineMigration('Orders1700000000101', sql('CREATE TABLE orders (id INT PRIMARY KEY)'));
    const stringList = bootApp({
      dataSources: [{ db, migrations: [CreateUsers] }],
      migrator: {
        runMigrations: true,
        dataSources: [{ name: 'default', tenants: { list: (() => 'acme,globex') as never, migrations: [TenantsOrders] } }],
      },
    });
    await expect(stringList).rejects.toBeInstanceOf(AutoMigratorConfigError);
    await expect(stringList).rejects.toThrow(
      /option "tenants.list" of DataSource "default" must return \(or resolve to\) an array of tenant names; got the string "acme,globex"/,
    );
    const noTenantMigrations = bootApp({
      dataSources: [{ db, migrations: [CreateUsers] }],
      migrator: { runMigrations: true, dataSources: [{ name: 'default', tenants: { list: () => ['acme'], migrations: [] } }] },
    });
    await expect(noTenantMigrations).rejects.toThrow(/option "dataSources\[0\]\.tenants\.migrations" is empty/);
    expect(await db.tables()).toEqual([]);
  });
});

describeEachDatabase(
  'a failed migration is printed once: one error line with the cause chain, the stack once',
  (t) => {
    const FAILING_APP = join(import.meta.dirname, '../fixtures/failing-app.mjs');
    const count = (text: string, what: string | RegExp) =>
      typeof what === 'string' ? text.split(what).length - 1 : (text.match(new RegExp(what, 'g')) ?? []).length;

    it.each(['blocking', 'background'] as const)(
      '%s mode, in a real process shaped like the quick start',
      { timeout: 180_000 },
      async (mode) => {
        const app = startNode(FAILING_APP, { DB_KIND: t.kind, DB_URL: t.db.url, FAIL_SQL: 'SELECT * FROM no_such_table', MODE: mode });
        expect(await app.exited).toBe(mode === 'blocking' ? 1 : 0);
        const output = app.output();
        const failed = 'DataSource "default": migration "FailingStatement1700000000002" failed: ';
        // The library's line, with the cause chain and no stack of its own.
        expect(
          count(output, new RegExp(`ERROR \\[AutoMigrator\\] ${failed.replace(/[.*"()[\]]/g, '\\$&')}.*\\(cause: QueryFailedError`)),
        ).toBe(1);
        // The stack, once: in blocking mode from the app's own print of the rejected listen(), in
        // background mode from the module's "Background migrations stopped" line.
        expect(count(output, 'at MigrationPass.runFailed')).toBe(1);
        expect(count(output, `MigrationFailedError: ${failed}`)).toBe(1);
        // Every line naming the failure: the library's line, the stack's header, and in background
        // mode the line that says the migrations stopped; TypeORM's own one-line message besides.
        expect(count(output, failed)).toBe(mode === 'blocking' ? 2 : 3);
        expect(count(output, 'Migration "FailingStatement1700000000002" failed, error:')).toBe(1);
      },
    );
  },
  ['postgres', 'mariadb'],
);
