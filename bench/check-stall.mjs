// What `check` does to the running release (PostgreSQL): a live table of --rows rows (never
// analyzed) serving one insert and one read every 20 ms from another process (bench/stall-load.mjs,
// loopback), while the pending migrations (a plain CREATE INDEX and an int -> bigint change, which
// rewrites the table) are checked:
//   - in place: their up() in one transaction on the live database, rolled back (what check did
//     before the shadow, and what deployCheck at boot still does);
//   - check(): through the module, in a temporary shadow database.
// Reports the release's longest insert and read during each, and each one's duration, medians of
// --runs, interleaved. Then the shadow's cost on a schema of --tables tables: check() of one
// pending migration against its in-place dry run. --json adds the BENCH_JSON line bench/all.mjs reads.
// Run by hand:  npm run build && node bench/check-stall.mjs [--runs 3] [--rows 2000000] [--tables 200] [--json]
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { machine, median, onFreshDatabase, reachable, sqlMigration, table, timeRolledBackRun } from './support.mjs';
import { timeCheck, underLoad } from './check-support.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    rows: { type: 'string', default: '2000000' },
    tables: { type: 'string', default: '200' },
    json: { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const ROWS = Number(values.rows);
const TABLES = Number(values.tables);

if (!(await reachable('postgres'))) {
  console.log('postgres: not reachable, skipped');
  process.exit(0);
}

const pending = [
  sqlMigration('IndexAndRetype1700000000001', ['CREATE INDEX big_v ON big (v)', 'ALTER TABLE big ALTER COLUMN v TYPE bigint']),
];
const stall = { inPlace: [], check: [] };
let findings = [];
await onFreshDatabase('postgres', async (db) => {
  await db.query('CREATE TABLE big (id bigserial PRIMARY KEY, v int, label text)');
  await db.query(`INSERT INTO big (v, label) SELECT g % 1000, 'row ' || g FROM generate_series(1, ${ROWS}) AS g`);
  await db.query('CHECKPOINT');
  for (let run = 0; run < RUNS; run++) {
    const order = run % 2 === 0 ? ['inPlace', 'check'] : ['check', 'inPlace'];
    for (const which of order) {
      const taken = await underLoad(db.url, 'big', () =>
        which === 'inPlace' ? timeRolledBackRun(db.url, pending) : timeCheck('postgres', db.url, pending),
      );
      stall[which].push(taken);
      if (taken.findings) findings = taken.findings;
    }
  }
});

// The shadow's cost on a wide schema: TABLES tables with an index each, one pending migration.
const schema = { inPlace: [], check: [] };
await onFreshDatabase('postgres', async (db) => {
  const statements = [];
  for (let i = 0; i < TABLES; i++) {
    statements.push(`CREATE TABLE t${i} (id int PRIMARY KEY, label varchar(50), created timestamptz DEFAULT now(), ref int)`);
    statements.push(`CREATE INDEX t${i}_label ON t${i} (label)`);
  }
  await db.query(statements.join(';\n'));
  await db.query('CREATE TABLE big (id bigserial PRIMARY KEY, v int, label text)');
  const one = [sqlMigration('AddColumn1700000000001', ['ALTER TABLE t0 ADD COLUMN note text'])];
  for (let run = 0; run < RUNS * 2; run++) {
    const order = run % 2 === 0 ? ['inPlace', 'check'] : ['check', 'inPlace'];
    for (const which of order)
      schema[which].push((which === 'inPlace' ? await timeRolledBackRun(db.url, one) : await timeCheck('postgres', db.url, one)).ms);
  }
});

const med = (list, key) => Math.round(median(list.map((entry) => entry[key])));
const inPlace = { insert: med(stall.inPlace, 'maxInsertMs'), read: med(stall.inPlace, 'maxReadMs'), ms: med(stall.inPlace, 'ms') };
const checked = { insert: med(stall.check, 'maxInsertMs'), read: med(stall.check, 'maxReadMs'), ms: med(stall.check, 'ms') };
const schemaCheck = Math.round(median(schema.check));
const schemaInPlace = Math.round(median(schema.inPlace));
const summary = [
  {
    case: `the running release's longest insert / read while check() runs (${ROWS.toLocaleString('en')} rows, CREATE INDEX + int -> bigint pending)`,
    library: `${checked.insert} / ${checked.read} ms (check took ${checked.ms} ms)`,
    comparison: `during the in-place dry run (before the shadow): ${inPlace.insert} / ${inPlace.read} ms (took ${inPlace.ms} ms)`,
    ratio: '-',
    target: '< 200 ms',
    met: Math.max(checked.insert, checked.read) < 200,
  },
  {
    case: `check() of one migration in a temporary shadow, schema of ${TABLES} tables`,
    library: `${schemaCheck} ms`,
    comparison: `the same migration's in-place dry run: ${schemaInPlace} ms`,
    ratio: (schemaCheck / schemaInPlace).toFixed(1),
    target: '-',
    met: true,
  },
];
console.log(`\ncheck-stall, ${RUNS} interleaved runs, medians; ${machine()}; findings of check(): ${findings.join(', ')}\n`);
console.log(
  table(
    ['case', 'this library', 'compared with', 'ratio', 'target', 'met'],
    summary.map((row) => [row.case, row.library, row.comparison, row.ratio, row.target, row.met ? 'yes' : '**no**']),
  ),
);
console.log(`every run: ${JSON.stringify(stall)}`);
if (values.json) console.log(`BENCH_JSON ${JSON.stringify(summary)}`);
