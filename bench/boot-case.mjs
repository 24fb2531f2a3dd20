// One measured boot, in a fresh process, for bench/overhead.mjs. Prints one JSON line.
// Env: CASE, DB_KIND, DB_URL, COUNT. Cases:
//   migrate-module | migrate-raw: COUNT migrations on an empty database, with the module | with migrationsRun;
//   boot-module | boot-plain: an HTTP app, NestFactory.create then app.init() timed apart, with | without the module;
//   boot-plain-read: boot-plain that reads its migrations table once itself during init, as the module does;
//   boot-typeorm-run: boot-plain with TypeORM's own migrationsRun (what the module replaces);
//   sample-module | sample-plain: an app shaped like the sample, for peak memory.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { AutoMigratorModule } from 'nestjs-auto-migrator';
import { portableMigrations } from '../test/fixtures/tenant-migrations.mjs';

const { CASE: kase, DB_KIND: kind, DB_URL: url } = process.env;
const count = Number(process.env.COUNT ?? 200);

function connection(migrations, extra = {}) {
  const base = kind === 'sqlite' ? { type: 'better-sqlite3', database: url } : { type: kind === 'mariadb' ? 'mariadb' : 'postgres', url };
  return TypeOrmModule.forRoot({ ...base, migrations, logging: false, retryAttempts: 1, ...extra });
}

async function sampleMigrations() {
  // The sample app's own migrations, compiled.
  const dir = join(import.meta.dirname, '../sample-app/dist/migrations');
  const files = ['1732000000001-create-notes.js', '1732000000002-seed-welcome-note.js', '1732000000003-add-note-created-at.js'];
  const modules = await Promise.all(files.map((file) => import(join(dir, file))));
  return modules.flatMap((module) => Object.values(module));
}

const migrations = kase.startsWith('sample') ? await sampleMigrations() : portableMigrations(count);
const withModule = kase.endsWith('module');
const boots = kase.startsWith('boot-');
const typeormRuns = !withModule && (!boots || kase === 'boot-typeorm-run');
const imports = [
  connection(migrations, withModule ? {} : { migrationsRun: typeormRuns, migrationsTransactionMode: 'each' }),
  ...(withModule ? [AutoMigratorModule.forRoot({ runMigrations: true, logger: false })] : []),
  // Every variant has Terminus: an application with readiness probes imports it anyway.
  TerminusModule,
];
const started = performance.now();
let app;
let initMs;
if (boots) {
  // As a real HTTP app: create (scan, resolve providers, connect), then init (lifecycle hooks, where the module works).
  app = await NestFactory.create({ module: class BootCase {}, imports }, { logger: false });
  const initStarted = performance.now();
  await app.init();
  if (kase === 'boot-plain-read') {
    const q = (name) => (kind === 'mariadb' ? `\`${name}\`` : `"${name}"`);
    await app.get(getDataSourceToken()).query(`SELECT ${q('name')} FROM ${q('migrations')} ORDER BY ${q('id')}`);
  }
  initMs = performance.now() - initStarted;
} else {
  app = await NestFactory.createApplicationContext({ module: class BootCase {}, imports }, { logger: false });
}
const bootMs = performance.now() - started;
await app.close();
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
console.log(JSON.stringify({ bootMs, initMs, peakRssKb: Number(hwm) }));
