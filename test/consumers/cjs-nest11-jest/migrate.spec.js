// A Nest 11 + TypeORM 0.3 application's Jest spec (Jest's CommonJS runtime) importing the library.
require('reflect-metadata');
const { Test } = require('@nestjs/testing');
const { ConfigModule } = require('@nestjs/config');
const { TypeOrmModule, getDataSourceToken } = require('@nestjs/typeorm');
const { AutoMigratorModule, AutoMigratorService, MigrationsHealthIndicator } = require('nestjs-auto-migrator');
const { CreateWidgets1700000000000, installed, migratedState } = require('./widgets.cjs');

jest.setTimeout(60_000);

describe('nestjs-auto-migrator in a CommonJS Nest 11 app under Jest', () => {
  let moduleRef;

  afterAll(async () => {
    await moduleRef?.close();
  });

  it('boots, migrates through RUN_MIGRATIONS read by ConfigService, and reports ready through Terminus', async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => ({ RUN_MIGRATIONS: 'true' })] }),
        TypeOrmModule.forRoot({ type: 'postgres', url: process.env.DATABASE_URL, migrations: [CreateWidgets1700000000000] }),
        AutoMigratorModule.forRoot({}),
      ],
    }).compile();
    await moduleRef.init();

    expect(await migratedState(moduleRef.get(getDataSourceToken()))).toEqual({
      tables: ['migrations', 'migrations_checksums', 'widgets'],
      recorded: ['CreateWidgets1700000000000'],
    });
    expect(moduleRef.get(AutoMigratorService)).toBeInstanceOf(AutoMigratorService);
    const health = await moduleRef.get(MigrationsHealthIndicator).isReady();
    expect(health.migrations.status).toBe('up');
    console.log(`CONSUMER typeorm ${installed('typeorm')}, @nestjs/core ${installed('@nestjs/core')}`);
  });
});
