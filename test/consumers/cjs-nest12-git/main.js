// A CommonJS application on Nest 12 (ESM-only packages, loaded by Node's require(esm)) and
// TypeORM 1.x, with the library installed as a git dependency. Prints one JSON line.
require('reflect-metadata');
const { NestFactory } = require('@nestjs/core');
const { Module } = require('@nestjs/common');
const { ConfigModule } = require('@nestjs/config');
const { TypeOrmModule, getDataSourceToken } = require('@nestjs/typeorm');
const { AutoMigratorModule, MigrationsHealthIndicator, MigrationStrategy } = require('nestjs-auto-migrator');
const { CreateWidgets1700000000000, installed, migratedState } = require('./widgets.cjs');

class AppModule {}
Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => ({ RUN_MIGRATIONS: 'yes' })] }),
    TypeOrmModule.forRoot({ type: 'postgres', url: process.env.DATABASE_URL, migrations: [CreateWidgets1700000000000] }),
    AutoMigratorModule.forRoot({}),
  ],
})(AppModule);

async function main() {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  try {
    const health = await app.get(MigrationsHealthIndicator).isReady();
    const imported = await import('nestjs-auto-migrator');
    console.log(
      JSON.stringify({
        ...(await migratedState(app.get(getDataSourceToken()))),
        health: health.migrations.status,
        sameClasses: imported.MigrationStrategy === MigrationStrategy && imported.AutoMigratorModule === AutoMigratorModule,
        typeorm: installed('typeorm'),
        nest: installed('@nestjs/core'),
      }),
    );
  } finally {
    await app.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
