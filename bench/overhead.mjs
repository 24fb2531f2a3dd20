// What the module costs, measured against TypeORM alone in the same run, each boot a fresh process:
//   - 200 migrations on an empty database: module vs TypeORM's migrationsRun (runMigrations, 'each');
//   - a boot with nothing pending (200 applied): module vs the same app without it (time added);
//   - peak memory (VmHWM) of an app shaped like the sample (SQLite, its 3 migrations): module vs migrationsRun.
// Run by hand:  npm run build && node bench/overhead.mjs [--runs 7] [--db postgres,mariadb,sqlite]
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machine, median, onFreshDatabase, reachable, reachableKinds, table } from './support.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    db: { type: 'string', default: 'postgres,mariadb,sqlite' },
    count: { type: 'string', default: '200' },
    json: { type: 'boolean', default: false },
  },
});
const summary = [];
const RUNS = Number(values.runs);
const CASE = join(import.meta.dirname, 'boot-case.mjs');

function boot(kase, kind, url) {
  const result = spawnSync(process.execPath, [CASE], { env: { ...process.env, CASE: kase, DB_KIND: kind, DB_URL: url, COUNT: values.count }, encoding: 'utf8' });
  const line = result.stdout.trim().split('\n').at(-1);
  if (result.status !== 0 || !line?.startsWith('{')) throw new Error(`${kase} on ${kind} failed:\n${result.stdout}\n${result.stderr}`);
  return JSON.parse(line);
}

/** A boot case on a fresh database. */
const onFresh = (kind, work) => onFreshDatabase(kind, (db) => work(db.url));

const rows = [];
for (const kind of await reachableKinds(values.db)) {
  const migrateRaw = [];
  const migrateModule = [];
  const bootPlain = [];
  const bootModule = [];
  for (let run = 0; run < RUNS; run++) {
    migrateRaw.push((await onFresh(kind, async (url) => boot('migrate-raw', kind, url))).bootMs);
    migrateModule.push(
      (await onFresh(kind, async (url) => {
        const first = boot('migrate-module', kind, url);
        // The same database, now fully migrated: boots with nothing pending.
        bootPlain.push(boot('boot-plain', kind, url).bootMs);
        bootModule.push(boot('boot-module', kind, url).bootMs);
        return first;
      })).bootMs,
    );
  }
  const raw = median(migrateRaw);
  const mod = median(migrateModule);
  summary.push({ case: `${values.count} migrations on an empty database (${kind})`, library: `${Math.round(mod)} ms`, comparison: `raw runMigrations ${Math.round(raw)} ms`, ratio: (mod / raw).toFixed(3), target: '<= 1.05', met: mod / raw <= 1.05 });
  rows.push([kind, `${values.count} migrations, empty database`, `${Math.round(raw)} ms`, `${Math.round(mod)} ms`, `${(mod / raw).toFixed(3)} (target <= 1.05)`]);
  const plain = median(bootPlain);
  const withModule = median(bootModule);
  summary.push({ case: `boot with nothing pending, ${values.count} applied (${kind})`, library: `${withModule.toFixed(1)} ms`, comparison: `without the module ${plain.toFixed(1)} ms`, ratio: `+${(withModule - plain).toFixed(1)} ms`, target: '<= +10 ms', met: withModule - plain <= 10 });
  rows.push([kind, `boot, nothing pending (${values.count} applied)`, `${plain.toFixed(1)} ms`, `${withModule.toFixed(1)} ms`, `+${(withModule - plain).toFixed(1)} ms (target <= 10 ms)`]);
}

if (await reachable('sqlite')) {
  const plain = [];
  const withModule = [];
  for (let run = 0; run < RUNS; run++) {
    plain.push((await onFresh('sqlite', async (url) => boot('sample-plain', 'sqlite', url))).peakRssKb);
    withModule.push((await onFresh('sqlite', async (url) => boot('sample-module', 'sqlite', url))).peakRssKb);
  }
  const p = median(plain);
  const m = median(withModule);
  summary.push({ case: 'peak memory of a sample-shaped app (sqlite)', library: `${(m / 1024).toFixed(1)} MiB`, comparison: `${(p / 1024).toFixed(1)} MiB`, ratio: (m / p).toFixed(3), target: '<= 1.15', met: m / p <= 1.15 });
  rows.push(['sqlite', 'peak memory, sample-shaped app', `${(p / 1024).toFixed(1)} MiB`, `${(m / 1024).toFixed(1)} MiB`, `${(m / p).toFixed(3)} (target <= 1.15)`]);
}

console.log(`\noverhead benchmark: ${RUNS} runs, median, each boot a fresh process; ${machine()}\n`);
console.log(table(['database', 'case', 'TypeORM alone', 'with nestjs-auto-migrator', 'ratio / added'], rows));
if (values.json) console.log(`BENCH_JSON ${JSON.stringify(summary)}`);
