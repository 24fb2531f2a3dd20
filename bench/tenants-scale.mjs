// Tenants at SaaS scale, on one fresh PostgreSQL database per N (N tenants x M small migrations):
//   - restart with nothing pending: app.init() with tenants, against the same app without them
//     (added milliseconds, and the statements the library sent);
//   - a deploy adding one migration to every tenant, against one psql session doing the same work,
//     and the same deploy by the library without the summary (summaryTable: false; on by default);
//   - the peak RSS of the process that ran the first migration of every tenant;
//   - --replicas replica processes released at once on N pending tenants, against one replica alone
//     (wall time until the last is done, each replica's share, every migration checked applied once).
// Each case is interleaved with its comparison; medians of --runs.
// Run by hand:  npm run build && node bench/tenants-scale.mjs [--tenants 1000,10000] [--migrations 10] [--runs 3] [--concurrency 4] [--replicas 4]
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AutoMigratorModule } from 'nestjs-auto-migrator';
import { benchTenantMigrations } from '../test/fixtures/tenant-migrations.mjs';
import { recordQueries } from '../test/support/recorded-queries.mjs';
import { machine, median, onFreshDatabase, reachable, runTogether, table } from './support.mjs';

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '1000,10000' },
    migrations: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '4' },
    replicas: { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
  },
});
const SIZES = values.tenants.split(',').map(Number);
const MIGRATIONS = Number(values.migrations);
const RUNS = Number(values.runs);
const CONCURRENCY = Number(values.concurrency);
const REPLICAS = Number(values.replicas);
// Replicas share one machine's cores here: each adds its own Nest boot (issue 27's target).
const REPLICAS_TARGET = 1.25;
const REPLICA = join(import.meta.dirname, '../test/fixtures/tenant-scale-replica.mjs');

const tenantNames = (n) => Array.from({ length: n }, (_, i) => `tenant_${String(i).padStart(5, '0')}`);

/** Boots (init) and closes an application context; resolves { ms, queries } for init(). */
async function boot(url, tenants, migrations, { summaryTable = true } = {}) {
  // Counted, not kept: the first deploy to 10,000 tenants sends 540,000 statements, and keeping
  // their text (recordQueries) made the RSS read after it 207 MiB instead of 141 (bench/README.md).
  let sent = 0;
  const logger = { ...recordQueries().logger, logQuery: () => void sent++ };
  const withTenants = tenants.length > 0;
  const started = performance.now();
  const app = await NestFactory.createApplicationContext(
    {
      module: class ScaleBenchModule {},
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url, migrations: [], logging: 'all', logger, extra: { max: CONCURRENCY + 2 } }),
        AutoMigratorModule.forRoot({
          runMigrations: true,
          logger: false,
          dataSources: [
            withTenants
              ? {
                  name: 'default',
                  allowNoMigrations: true,
                  tenants: { list: () => tenants, migrations, concurrency: CONCURRENCY, summaryTable },
                }
              : { name: 'default', allowNoMigrations: true },
          ],
        }),
      ],
    },
    { logger: false },
  );
  const ms = performance.now() - started;
  const queries = sent;
  await app.close();
  return { ms, queries };
}

/**
 * `count` replica processes released at once on `n` pending tenants of a fresh database: the wall
 * time until the last is done, and how many migrations each applied. Throws unless every replica
 * booted and every tenant holds each migration exactly once.
 */
async function replicasOn(n, count) {
  return onFreshDatabase('postgres', async (db) => {
    const env = { DB_URL: db.url, TENANTS: String(n), MIGRATIONS: String(MIGRATIONS), CONCURRENCY: String(CONCURRENCY) };
    const { startedAt, results } = await runTogether(REPLICA, count, env);
    const failed = results.find((result) => result.code !== 0 || !/DONE_AT (\d+)/.test(result.output));
    if (failed) throw new Error(`a replica failed (exit ${failed.code}): ${failed.output.slice(0, 2000)}`);
    const tenants = tenantNames(n);
    let recorded = 0;
    for (let start = 0; start < n; start += 500) {
      const counts = tenants
        .slice(start, start + 500)
        .map((tenant) => `SELECT count(*) AS total, count(DISTINCT name) AS names FROM "${tenant}".migrations`)
        .join(' UNION ALL ');
      const [row] = await db.query(
        `SELECT sum(total)::int AS total, sum(names)::int AS names, count(*) FILTER (WHERE total <> ${MIGRATIONS})::int AS off FROM (${counts}) AS t`,
      );
      if (row.total !== row.names || row.off !== 0)
        throw new Error(`tenants ${start}…: ${JSON.stringify(row)}: a migration missing or applied twice`);
      recorded += row.total;
    }
    const shares = results.map((result) => Number(/APPLIED (\d+)/.exec(result.output)?.[1]));
    if (shares.reduce((sum, share) => sum + share, 0) !== recorded)
      throw new Error(`shares ${shares.join('/')} do not add up to ${recorded}`);
    return { wallMs: Math.max(...results.map((result) => Number(/DONE_AT (\d+)/.exec(result.output)[1]))) - startedAt, shares };
  });
}

function psqlScript(tenants, migration) {
  const lines = ['\\set ON_ERROR_STOP on'];
  for (const tenant of tenants) {
    lines.push(`SET search_path TO "${tenant}";`, 'BEGIN;');
    lines.push(`CREATE TABLE bench_${MIGRATIONS} (id SERIAL PRIMARY KEY, label VARCHAR(50), created_at TIMESTAMP DEFAULT now());`);
    lines.push(`INSERT INTO migrations (timestamp, name) VALUES (${migration.name.slice(-13)}, '${migration.name}');`, 'COMMIT;');
  }
  return lines.join('\n');
}

function psql(url, file) {
  const started = performance.now();
  const result = spawnSync('psql', ['-q', '-X', '-f', file, url], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`);
  return performance.now() - started;
}

if (!(await reachable('postgres')) || spawnSync('psql', ['--version']).status !== 0) {
  console.log('PostgreSQL or psql is not available: nothing to measure');
  process.exit(0);
}
Logger.overrideLogger(false);
const all = benchTenantMigrations(MIGRATIONS + 1);
const first = all.slice(0, MIGRATIONS);
const dir = mkdtempSync(join(tmpdir(), 'bench-tenants-scale-'));
const rows = [];
const report = {};
try {
  for (const n of SIZES) {
    const tenants = tenantNames(n);
    const script = join(dir, `deploy-${n}.sql`);
    writeFileSync(script, psqlScript(tenants, all[MIGRATIONS]));
    const restart = { added: [], queries: [] };
    const deploy = { library: [], plain: [], psql: [] };
    const rss = [];
    const replicas = { one: [], many: [] };
    for (let run = 0; run < RUNS; run++) {
      if (REPLICAS > 0) {
        replicas.one.push(await replicasOn(n, 1));
        replicas.many.push(await replicasOn(n, REPLICAS));
      }
      // Restart, nothing pending: with tenants vs the same app without them, interleaved.
      await onFreshDatabase('postgres', async (db) => {
        const before = process.memoryUsage().rss;
        await boot(db.url, tenants, first);
        rss.push(Math.max(before, process.memoryUsage().rss));
        for (let i = 0; i < 2; i++) {
          const plain = await boot(db.url, [], first);
          const withTenants = await boot(db.url, tenants, first);
          restart.added.push(withTenants.ms - plain.ms);
          restart.queries.push(withTenants.queries - plain.queries);
        }
      });
      // One new migration in every tenant: the library and psql, each on its own fresh copy, after a
      // checkpoint (building the copy writes a lot), taking turns at going first.
      const deployWith = {
        library: () =>
          onFreshDatabase('postgres', async (db) => {
            await boot(db.url, tenants, first);
            await db.query('CHECKPOINT');
            deploy.library.push((await boot(db.url, tenants, all)).ms);
          }),
        // The library without the summary (summaryTable: false).
        plain: () =>
          onFreshDatabase('postgres', async (db) => {
            await boot(db.url, tenants, first, { summaryTable: false });
            await db.query('CHECKPOINT');
            deploy.plain.push((await boot(db.url, tenants, all, { summaryTable: false })).ms);
          }),
        // psql's copy has no summary trigger: it does the work as a team without the library would.
        psql: () =>
          onFreshDatabase('postgres', async (db) => {
            await boot(db.url, tenants, first, { summaryTable: false });
            await db.query('CHECKPOINT');
            deploy.psql.push(psql(db.url, script));
          }),
      };
      const order = ['library', 'plain', 'psql'];
      for (let turn = 0; turn < order.length; turn++) await deployWith[order[(turn + run) % order.length]]();
    }
    const entry = {
      tenants: n,
      restartAddedMs: median(restart.added),
      restartQueries: median(restart.queries),
      deployMs: median(deploy.library),
      deployPsqlMs: median(deploy.psql),
      deployPlainMs: median(deploy.plain),
      peakRssMiB: Math.max(...rss) / 2 ** 20,
      ...(REPLICAS > 0
        ? {
            oneReplicaMs: median(replicas.one.map((result) => result.wallMs)),
            replicasMs: median(replicas.many.map((result) => result.wallMs)),
            shares: replicas.many.map((result) => result.shares.join('/')).join(', '),
          }
        : {}),
    };
    report[n] = entry;
    rows.push(
      [
        `${n} tenants: restart, nothing pending, init() added`,
        `${Math.round(entry.restartAddedMs)} ms, ${entry.restartQueries} queries`,
        '≤ 100 ms, ≤ 10 queries',
      ],
      [
        `${n} tenants: deploy one migration to every tenant`,
        `${Math.round(entry.deployMs)} ms vs psql ${Math.round(entry.deployPsqlMs)} ms: ${(entry.deployMs / entry.deployPsqlMs).toFixed(2)}`,
        '≤ 1.00',
      ],
      [
        `${n} tenants: the same deploy without the summary`,
        `${Math.round(entry.deployPlainMs)} ms vs psql: ${(entry.deployPlainMs / entry.deployPsqlMs).toFixed(2)}; with the summary / without: ${(entry.deployMs / entry.deployPlainMs).toFixed(2)}`,
        '-',
      ],
      [`${n} tenants: peak RSS (first migration of every tenant)`, `${Math.round(entry.peakRssMiB)} MiB`, '≤ 200 MiB'],
    );
    if (REPLICAS > 0) {
      rows.push([
        `${n} tenants pending: ${REPLICAS} replicas at once vs 1 replica`,
        `${Math.round(entry.replicasMs)} ms vs ${Math.round(entry.oneReplicaMs)} ms: ${(entry.replicasMs / entry.oneReplicaMs).toFixed(2)} (shares ${entry.shares})`,
        `≤ ${REPLICAS_TARGET.toFixed(2)}`,
      ]);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (values.json) {
  const bench = Object.values(report).flatMap((entry) => [
    {
      case: `${entry.tenants} tenants: restart, nothing pending (init() added, statements)`,
      library: `${Math.round(entry.restartAddedMs)} ms, ${entry.restartQueries}`,
      comparison: 'same app without tenants',
      ratio: '-',
      target: '≤ 100 ms, ≤ 10',
      met: entry.restartAddedMs <= 100 && entry.restartQueries <= 10,
    },
    {
      case: `${entry.tenants} tenants: one new migration in every tenant`,
      library: `${Math.round(entry.deployMs)} ms`,
      comparison: `one psql session: ${Math.round(entry.deployPsqlMs)} ms`,
      ratio: (entry.deployMs / entry.deployPsqlMs).toFixed(2),
      target: '≤ 1.00',
      met: entry.deployMs <= entry.deployPsqlMs,
    },
    {
      case: `${entry.tenants} tenants: one new migration in every tenant, without the summary`,
      library: `${Math.round(entry.deployPlainMs)} ms`,
      comparison: `with the summary: ${Math.round(entry.deployMs)} ms`,
      ratio: (entry.deployMs / entry.deployPlainMs).toFixed(2),
      target: '-',
      met: true,
    },
    ...(entry.replicasMs === undefined
      ? []
      : [
          {
            case: `${entry.tenants} tenants pending: ${REPLICAS} replicas at once (shares ${entry.shares})`,
            library: `${Math.round(entry.replicasMs)} ms`,
            comparison: `1 replica: ${Math.round(entry.oneReplicaMs)} ms`,
            ratio: (entry.replicasMs / entry.oneReplicaMs).toFixed(2),
            target: `≤ ${REPLICAS_TARGET.toFixed(2)}`,
            met: entry.replicasMs <= entry.oneReplicaMs * REPLICAS_TARGET,
          },
        ]),
    {
      case: `${entry.tenants} tenants: peak RSS`,
      library: `${Math.round(entry.peakRssMiB)} MiB`,
      comparison: '-',
      ratio: '-',
      target: '≤ 200 MiB',
      met: entry.peakRssMiB <= 200,
    },
  ]);
  console.log(`BENCH_JSON ${JSON.stringify(bench)}`);
} else {
  console.log(`tenants at scale, ${MIGRATIONS} migrations each, concurrency ${CONCURRENCY}, medians of ${RUNS} (${machine()})`);
  console.log(table(['case', 'measured', 'target'], rows));
}
