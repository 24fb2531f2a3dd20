import { Injectable } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AutoMigratorConfigError, AutoMigratorModule, type AutoMigratorModuleOptions } from '../../lib/index.js';
import { createTestDatabase, type DbKind, type TestDatabase } from '../support/databases.js';
import { CreateUsers, defineMigration, SeedAlice, sql } from '../support/migrations.js';
import { bootApp, type TestDataSource } from '../support/test-app.js';

@Injectable()
class NotAStrategy {
  run() {}
}

describe.each(['sqlite', 'postgres'] as const satisfies readonly DbKind[])('bad input on %s: the boot fails naming the problem, nothing runs', (kind) => {
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
});
