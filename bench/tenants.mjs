// 300 tenants x 10 migrations on a fresh PostgreSQL database, in the same run:
//   - this library (Nest application context, tenants option), at several concurrencies;
//   - the naive loop: one DataSource per tenant (schema + search_path), sequential;
//   - one psql session running the same DDL from a generated script.
// Run by hand:  npm run build && node bench/tenants.mjs [--tenants 300] [--migrations 10] [--runs 3] [--concurrency 1,2,4,8]
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AutoMigratorModule } from 'nestjs-auto-migrator';
import { benchTenantMigrations } from '../test/fixtures/tenant-migrations.mjs';
import { machine, median, onFreshDatabase, reachable, table } from './support.mjs';

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '300' },
    migrations: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,2,4,8' },
    json: { type: 'boolean', default: false },
  },
});
const TENANTS = Array.from({ length: Number(values.tenants) }, (_, i) => `tenant_${String(i).padStart(4, '0')}`);
const MIGRATIONS = benchTenantMigrations(Number(values.migrations));
const RUNS = Number(values.runs);
const CONCURRENCIES = values.concurrency.split(',').map(Number);

function timed(work) {
  return onFreshDatabase('postgres', async (db) => {
    const started = performance.now();
    await work(db.url);
    const ms = performance.now() - started;
    const rows = await db.query(`SELECT COUNT(*)::int AS n FROM pg_tables WHERE tablename = 'bench_0'`);
    if (rows[0].n !== TENANTS.length) throw new Error(`expected ${TENANTS.length} tenant tables, found ${rows[0].n}`);
    return ms;
  });
}

async function library(url, concurrency) {
  const app = await NestFactory.createApplicationContext(
    {
      module: class BenchModule {},
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url, migrations: [], extra: { max: concurrency + 2 } }),
        AutoMigratorModule.forRoot({
          runMigrations: true,
          logger: false,
          dataSources: [
            { name: 'default', allowNoMigrations: true, tenants: { list: () => TENANTS, migrations: MIGRATIONS, concurrency } },
          ],
        }),
      ],
    },
    { logger: false },
  );
  await app.close();
}

async function naiveLoop(url) {
  for (const tenant of TENANTS) {
    const dataSource = new DataSource({
      type: 'postgres',
      url,
      schema: tenant,
      extra: { options: `-c search_path=${tenant}` },
      migrations: MIGRATIONS,
      logging: false,
    });
    await dataSource.initialize();
    try {
      await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${tenant}"`);
      await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await dataSource.destroy();
    }
  }
}

function psqlScript() {
  const lines = ['\\set ON_ERROR_STOP on'];
  for (const tenant of TENANTS) {
    lines.push(`CREATE SCHEMA "${tenant}";`, `SET search_path TO "${tenant}";`);
    lines.push('CREATE TABLE migrations (id SERIAL PRIMARY KEY, timestamp BIGINT NOT NULL, name VARCHAR NOT NULL);');
    MIGRATIONS.forEach((migration, i) => {
      lines.push('BEGIN;');
      lines.push(`CREATE TABLE bench_${i} (id SERIAL PRIMARY KEY, label VARCHAR(50), created_at TIMESTAMP DEFAULT now());`);
      lines.push(`INSERT INTO migrations (timestamp, name) VALUES (${migration.name.slice(-13)}, '${migration.name}');`);
      lines.push('COMMIT;');
    });
  }
  return lines.join('\n');
}

function psqlAvailable() {
  return spawnSync('psql', ['--version']).status === 0;
}

async function psql(url, file) {
  const result = spawnSync('psql', ['-q', '-X', '-f', file, url], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`);
}

if (!(await reachable('postgres'))) {
  console.log('PostgreSQL is not reachable: nothing to measure');
  process.exit(0);
}
Logger.overrideLogger(false);
const dir = mkdtempSync(join(tmpdir(), 'bench-tenants-'));
const script = join(dir, 'tenants.sql');
writeFileSync(script, psqlScript());
const results = { naive: [], psql: [], ...Object.fromEntries(CONCURRENCIES.map((c) => [`c${c}`, []])) };
try {
  for (let run = 0; run < RUNS; run++) {
    results.naive.push(await timed((url) => naiveLoop(url)));
    if (psqlAvailable()) results.psql.push(await timed((url) => psql(url, script)));
    for (const concurrency of CONCURRENCIES) results[`c${concurrency}`].push(await timed((url) => library(url, concurrency)));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const naive = median(results.naive);
const psqlMs = results.psql.length ? median(results.psql) : NaN;
const rows = [
  [
    'naive loop (DataSource per tenant, sequential)',
    `${Math.round(naive)} ms`,
    '1.00',
    Number.isNaN(psqlMs) ? '-' : (naive / psqlMs).toFixed(2),
  ],
  [
    'one psql session, generated script',
    Number.isNaN(psqlMs) ? 'psql not installed' : `${Math.round(psqlMs)} ms`,
    Number.isNaN(psqlMs) ? '-' : (psqlMs / naive).toFixed(2),
    '1.00',
  ],
  ...CONCURRENCIES.map((c) => {
    const ms = median(results[`c${c}`]);
    return [
      `nestjs-auto-migrator, concurrency ${c}`,
      `${Math.round(ms)} ms`,
      (ms / naive).toFixed(2),
      Number.isNaN(psqlMs) ? '-' : (ms / psqlMs).toFixed(2),
    ];
  }),
];
console.log(`\ntenants benchmark: ${TENANTS.length} tenants x ${MIGRATIONS.length} migrations, ${RUNS} runs, median; ${machine()}\n`);
console.log(table(['case', 'time', 'vs naive loop (target <= 0.6)', 'vs psql (target <= 1.2)'], rows));
if (values.json) {
  const best = Math.min(...CONCURRENCIES.map((c) => median(results[`c${c}`])));
  const chosen = CONCURRENCIES.includes(8) ? median(results.c8) : best;
  const label = CONCURRENCIES.includes(8) ? 'concurrency 8 (default)' : 'best concurrency';
  const summary = [
    {
      case: `${TENANTS.length} tenants x ${MIGRATIONS.length} migrations vs naive loop (${label})`,
      library: `${Math.round(chosen)} ms`,
      comparison: `${Math.round(naive)} ms`,
      ratio: (chosen / naive).toFixed(2),
      target: '<= 0.6',
      met: chosen / naive <= 0.6,
    },
  ];
  if (!Number.isNaN(psqlMs)) {
    summary.push({
      case: `${TENANTS.length} tenants x ${MIGRATIONS.length} migrations vs one psql session`,
      library: `${Math.round(chosen)} ms`,
      comparison: `${Math.round(psqlMs)} ms`,
      ratio: (chosen / psqlMs).toFixed(2),
      target: '<= 1.2',
      met: chosen / psqlMs <= 1.2,
    });
  }
  console.log(`BENCH_JSON ${JSON.stringify(summary)}`);
}
