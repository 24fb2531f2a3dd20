// What the module costs, measured against TypeORM alone in the same run, each boot a fresh process:
//   - 200 migrations on an empty database: module vs TypeORM's migrationsRun (runMigrations, 'each');
//   - an HTTP app booting with nothing pending (200 applied): time the module adds to app.init(), as the
//     median of paired differences over many boots (boots vary by several ms: GC, scheduling); also vs
//     the app reading its migrations table once itself, the whole boot's added time, and what TypeORM's
//     own migrationsRun adds instead;
//   - peak memory (VmHWM) of an app shaped like the sample (SQLite, its 3 migrations): module vs migrationsRun.
// Run by hand:  npm run build && node bench/overhead.mjs [--runs 8] [--boots-per-run 3] [--db postgres,mariadb,sqlite]
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machine, median, onFreshDatabase, reachable, reachableKinds, table } from './support.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '8' },
    db: { type: 'string', default: 'postgres,mariadb,sqlite' },
    count: { type: 'string', default: '200' },
    'boots-per-run': { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});
const summary = [];
const RUNS = Number(values.runs);
const CASE = join(import.meta.dirname, 'boot-case.mjs');

function boot(kase, kind, url) {
  const result = spawnSync(process.execPath, [CASE], {
    env: { ...process.env, CASE: kase, DB_KIND: kind, DB_URL: url, COUNT: values.count },
    encoding: 'utf8',
  });
  const line = result.stdout.trim().split('\n').at(-1);
  if (result.status !== 0 || !line?.startsWith('{')) throw new Error(`${kase} on ${kind} failed:\n${result.stdout}\n${result.stderr}`);
  return JSON.parse(line);
}

/**
 * Lets the server catch up with the previous run (a dropped database of 200 tables leaves files to
 * unlink and pages to write) before the next timed run: a checkpoint on PostgreSQL, then a pause.
 */
async function settle(kind) {
  if (kind === 'postgres') await onFreshDatabase('postgres', (db) => db.query('CHECKPOINT')).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 300));
}

/** A boot case on a fresh database. */
const onFresh = (kind, work) => onFreshDatabase(kind, (db) => work(db.url));

/** The middle half of a sample, for the spread printed beside a median. */
function quartiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (f) => sorted[Math.round(f * (sorted.length - 1))];
  return [at(0.25), at(0.75)];
}

const rows = [];
for (const kind of await reachableKinds(values.db)) {
  const migrateRaw = [];
  const migrateModule = [];
  // Paired ratios by which ran first: whichever runs second on a server still busy with the first
  // run's dropped database is slowed, so each order's median is taken and the two are balanced.
  const rawFirst = [];
  const moduleFirst = [];
  const initPlain = [];
  const initModule = [];
  const initAdded = [];
  const initBeyondRead = [];
  const bootAdded = [];
  const typeormRunAdded = [];
  for (let run = 0; run < RUNS; run++) {
    // Raw and module back to back, each on a fresh database, in alternating order: one paired ratio per run
    // (whole runs vary by 10-20% here with the disk and the server, more than the 5% being measured).
    const order = run % 2 === 0 ? ['migrate-raw', 'migrate-module'] : ['migrate-module', 'migrate-raw'];
    const took = {};
    for (const kase of order) {
      await settle(kind);
      took[kase] = (await onFresh(kind, async (url) => boot(kase, kind, url))).bootMs;
    }
    migrateRaw.push(took['migrate-raw']);
    migrateModule.push(took['migrate-module']);
    (run % 2 === 0 ? rawFirst : moduleFirst).push(took['migrate-module'] / took['migrate-raw']);
  }
  if (Number(values['boots-per-run']) > 0)
    await onFresh(kind, async (url) => {
      boot('migrate-module', kind, url);
      // The same database, now fully migrated: boots with nothing pending, interleaved and paired.
      for (let pair = 0; pair < RUNS * Number(values['boots-per-run']); pair++) {
        const plain = boot('boot-plain', kind, url);
        const withModule = boot('boot-module', kind, url);
        const read = boot('boot-plain-read', kind, url);
        const typeormRun = boot('boot-typeorm-run', kind, url);
        initPlain.push(plain.initMs);
        initModule.push(withModule.initMs);
        initAdded.push(withModule.initMs - plain.initMs);
        initBeyondRead.push(withModule.initMs - read.initMs);
        bootAdded.push(withModule.bootMs - plain.bootMs);
        typeormRunAdded.push(typeormRun.bootMs - plain.bootMs);
      }
    });
  const raw = median(migrateRaw);
  const mod = median(migrateModule);
  const ratio = Math.sqrt(median(rawFirst) * median(moduleFirst));
  const [low, high] = quartiles([...rawFirst, ...moduleFirst]);
  summary.push({
    case: `${values.count} migrations on an empty database (${kind})`,
    library: `${Math.round(mod)} ms`,
    comparison: `raw runMigrations ${Math.round(raw)} ms`,
    ratio: `${ratio.toFixed(3)} (${low.toFixed(2)}-${high.toFixed(2)})`,
    target: '<= 1.05',
    met: ratio <= 1.05,
  });
  rows.push([
    kind,
    `${values.count} migrations, empty database (${RUNS} paired runs)`,
    `${Math.round(raw)} ms`,
    `${Math.round(mod)} ms`,
    `${ratio.toFixed(3)} (raw first ${median(rawFirst).toFixed(3)}, module first ${median(moduleFirst).toFixed(3)}; middle half ${low.toFixed(2)}-${high.toFixed(2)}) (target <= 1.05)`,
  ]);
  if (initAdded.length === 0) continue;
  const added = median(initAdded);
  const [addedLow, addedHigh] = quartiles(initAdded);
  const ms = (value) => `${value >= 0 ? '+' : ''}${value.toFixed(1)} ms`;
  summary.push({
    case: `app.init() with nothing pending, ${values.count} applied (${kind})`,
    library: `${median(initModule).toFixed(1)} ms`,
    comparison: `without the module ${median(initPlain).toFixed(1)} ms`,
    ratio: `${ms(added)} (${addedLow.toFixed(1)} to ${addedHigh.toFixed(1)})`,
    target: '<= +10 ms',
    met: added <= 10,
  });
  rows.push([
    kind,
    `app.init(), nothing pending (${values.count} applied; ${initAdded.length} paired boots)`,
    `${median(initPlain).toFixed(1)} ms`,
    `${median(initModule).toFixed(1)} ms`,
    `${ms(added)}, middle half ${addedLow.toFixed(1)} to ${addedHigh.toFixed(1)} (target <= 10 ms)`,
  ]);
  rows.push([kind, '  same, vs the app reading its migrations table once itself in init', '', '', ms(median(initBeyondRead))]);
  rows.push([kind, '  whole boot (NestFactory.create + init) added by the module', '', '', ms(median(bootAdded))]);
  rows.push([kind, "  whole boot added by TypeORM's own migrationsRun instead", '', '', ms(median(typeormRunAdded))]);
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
  summary.push({
    case: 'peak memory of a sample-shaped app (sqlite)',
    library: `${(m / 1024).toFixed(1)} MiB`,
    comparison: `${(p / 1024).toFixed(1)} MiB`,
    ratio: (m / p).toFixed(3),
    target: '<= 1.15',
    met: m / p <= 1.15,
  });
  rows.push([
    'sqlite',
    'peak memory, sample-shaped app',
    `${(p / 1024).toFixed(1)} MiB`,
    `${(m / 1024).toFixed(1)} MiB`,
    `${(m / p).toFixed(3)} (target <= 1.15)`,
  ]);
}

console.log(`\noverhead benchmark: ${RUNS} runs, median, each boot a fresh process; ${machine()}\n`);
console.log(table(['database', 'case', 'TypeORM alone', 'with nestjs-auto-migrator', 'ratio / added'], rows));
if (values.json) console.log(`BENCH_JSON ${JSON.stringify(summary)}`);
