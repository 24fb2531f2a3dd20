// What `status --schema` costs on a long history (issue 35): 200 migrations (a table each with an
// index, every tenth also altering an older table), applied by TypeORM; then, interleaved, --runs
// times each, the whole CLI command: `status`; `status --schema` (TypeORM's schema builder against
// the live schema, 200 entities); `status --schema --replay --replay-on-live-server` (every migration
// replayed in a temporary database, both catalogs read and compared); and, as the replay's
// comparison, TypeORM's own `runMigrations()` of the same history into an empty database.
// Run by hand: npm run build && node bench/drift.mjs [--runs 5] [--migrations 200] [--kinds postgres,mariadb]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freshDatabase, machine, median, reachableKinds, table } from './support.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    migrations: { type: 'string', default: '200' },
    kinds: { type: 'string', default: 'postgres,mariadb' },
  },
});
const RUNS = Number(values.runs);
const COUNT = Number(values.migrations);
const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist/cli/auto-migrator.js');

/** The history, as a module the CLI and TypeORM load: migrations and one entity per table. */
function historyModule(kind) {
  const int = 'INT';
  const text = kind === 'postgres' ? 'TEXT' : 'VARCHAR(200)';
  const lines = ["import { DataSource, EntitySchema } from 'typeorm';", 'const migrations = [];', 'const entities = [];'];
  for (let i = 0; i < COUNT; i++) {
    const name = `Step${1700000000000 + i}`;
    const statements = [
      `CREATE TABLE t${i} (id ${int} PRIMARY KEY, name ${text} NOT NULL, n ${int}${i > 0 ? `, parent ${int} REFERENCES t${i - 1} (id)` : ''})`,
      `CREATE INDEX t${i}_name ON t${i} (name)`,
    ];
    if (i % 10 === 9) statements.push(`ALTER TABLE t${i - 5} ADD extra_${i} ${int} NULL`);
    lines.push(
      `migrations.push({ ${JSON.stringify(name)}: class { async up(q) { for (const s of ${JSON.stringify(statements)}) await q.query(s); } async down() {} } }[${JSON.stringify(name)}]);`,
    );
    lines.push(
      `entities.push(new EntitySchema({ name: 'T${i}', tableName: 't${i}', columns: { id: { type: 'int', primary: true }, n: { type: 'int', nullable: true } } }));`,
    );
  }
  lines.push(
    `export default new DataSource({ type: ${JSON.stringify(kind === 'postgres' ? 'postgres' : 'mariadb')}, url: process.env.DB_URL, migrations, entities });`,
  );
  return lines.join('\n');
}

function timed(args, env) {
  const started = performance.now();
  const run = spawnSync(process.execPath, args, { env: { ...process.env, ...env }, encoding: 'utf8', cwd: ROOT });
  const ms = performance.now() - started;
  return { ms, code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const RUN_TYPEORM = `
  const { default: dataSource } = await import(process.argv[1]);
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  await dataSource.destroy();`;

console.log(`status --schema on ${COUNT} migrations; medians of ${RUNS}, interleaved; ${machine()}\n`);
const rows = [];
for (const kind of await reachableKinds(values.kinds)) {
  const dir = mkdtempSync(join(ROOT, 'bench/.drift-'));
  const file = join(dir, 'data-source.mjs');
  writeFileSync(file, historyModule(kind));
  const live = await freshDatabase(kind);
  try {
    const env = { DB_URL: live.url, NO_COLOR: '1' };
    const applied = timed(['--input-type=module', '-e', RUN_TYPEORM, file], env);
    if (applied.code !== 0) throw new Error(`${kind}: the history did not apply: ${applied.stderr}`);
    const cases = {
      status: ['status', '--json', '--data-source', file],
      'status --schema': ['status', '--schema', '--json', '--data-source', file],
      'status --schema --replay': ['status', '--schema', '--replay', '--replay-on-live-server', '--json', '--data-source', file],
    };
    const times = Object.fromEntries([...Object.keys(cases), 'TypeORM runMigrations (empty database)'].map((key) => [key, []]));
    const replayMs = [];
    let differences;
    for (let run = 0; run < RUNS; run++) {
      for (const [key, args] of Object.entries(cases)) {
        const result = timed([CLI, ...args], env);
        if (result.code !== 0) throw new Error(`${kind} ${key}: exit ${result.code}: ${result.stderr.slice(-2000)}`);
        times[key].push(result.ms);
        if (key.endsWith('--replay')) {
          const replay = JSON.parse(result.stdout).dataSources[0].historyReplay;
          replayMs.push(replay.durationMs);
          differences = replay.differences.length + (replay.notReplayed ? ` (${replay.notReplayed})` : '');
        }
      }
      const empty = await freshDatabase(kind);
      try {
        const result = timed(['--input-type=module', '-e', RUN_TYPEORM, file], { ...env, DB_URL: empty.url });
        if (result.code !== 0) throw new Error(`${kind}: TypeORM's run failed: ${result.stderr}`);
        times['TypeORM runMigrations (empty database)'].push(result.ms);
      } finally {
        await empty.drop();
      }
    }
    for (const [key, list] of Object.entries(times)) rows.push([kind, key, `${Math.round(median(list))} ms`]);
    rows.push([kind, 'replay inside the command (durationMs)', `${Math.round(median(replayMs))} ms`]);
    rows.push([kind, 'differences found after a clean apply', String(differences)]);
  } finally {
    await live.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(table(['database', 'command (whole process)', 'median'], rows));
