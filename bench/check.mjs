// What `check` costs (PostgreSQL): 200 pending migrations checked (dry run, PostgreSQL's parser,
// the catalog, the rules) against the same migrations run by TypeORM alone in one transaction
// that is rolled back (the dry run's bare work), in the same run, interleaved, each on a fresh
// database; and the parser's cost per statement once loaded.
// Run by hand:  npm run build && node bench/check.mjs [--runs 6] [--count 200] [--json]
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machine, median, onFreshDatabase, reachable, sqlMigration, table, timeRolledBackRun } from './support.mjs';
import { timeCheck } from './check-support.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '6' },
    count: { type: 'string', default: '200' },
    json: { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const COUNT = Number(values.count);

/**
 * COUNT migrations shaped like a real history: a new table with an index, a column added to a live
 * table, an index on it, a backfill; the live table (10,000 rows) exists before they run.
 */
function migrations() {
  return Array.from({ length: COUNT }, (_, i) => {
    const name = `Bench${1700000000000 + i + 1}`;
    const statements = [
      [
        `CREATE TABLE t${i} (id INT PRIMARY KEY, label VARCHAR(50), created timestamptz DEFAULT now())`,
        `CREATE INDEX t${i}_label ON t${i} (label)`,
      ],
      [`ALTER TABLE live ADD COLUMN c${i} INT`],
      [`CREATE INDEX live_v${i} ON live (v)`],
      [`UPDATE live SET v = v + 1 WHERE id < 100`],
    ][i % 4];
    return sqlMigration(name, statements);
  });
}

async function seed(db) {
  await db.query('CREATE TABLE live (id INT PRIMARY KEY, v INT)');
  await db.query('INSERT INTO live SELECT g, g FROM generate_series(1, 10000) AS g');
  await db.query('ANALYZE live');
}

if (!(await reachable('postgres'))) {
  console.log('postgres: not reachable, skipped');
  process.exit(0);
}
const checks = [];
const raws = [];
const ratios = [];
let findings = 0;
for (let run = 0; run < RUNS; run++) {
  // Alternating order, each on its own fresh database.
  const order = run % 2 === 0 ? ['raw', 'check'] : ['check', 'raw'];
  const took = {};
  for (const which of order) {
    took[which] = await onFreshDatabase('postgres', async (db) => {
      await seed(db);
      return which === 'raw' ? timeRolledBackRun(db.url, migrations()) : timeCheck('postgres', db.url, migrations());
    });
  }
  raws.push(took.raw.ms);
  checks.push(took.check.ms);
  findings = took.check.findings.length;
  ratios.push(took.check.ms / took.raw.ms);
}

// The parser alone, once loaded: every statement of the migrations, parsed again and again.
const parseModule = join(import.meta.dirname, '../dist/check/sql/parse-sql.js');
// The first call loads the WebAssembly: timed in fresh processes (this one has loaded it already), median of 5.
const loads = Array.from({ length: 5 }, () => {
  const script = `const { parseStatements } = require(${JSON.stringify(parseModule)}); const t = performance.now(); parseStatements('SELECT 1').then(() => console.log(performance.now() - t));`;
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim());
});
const loadMs = median(loads);
const { parseStatements } = await import(parseModule);
const sample = [
  'CREATE TABLE t1 (id INT PRIMARY KEY, label VARCHAR(50), created timestamptz DEFAULT now())',
  'CREATE INDEX "IDX_t1_label" ON "public"."t1" ("label")',
  'ALTER TABLE "live" ADD COLUMN "c1" integer NOT NULL DEFAULT 0',
  'ALTER TABLE "users" ADD CONSTRAINT "FK_1" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE NO ACTION ON UPDATE NO ACTION',
  'UPDATE live SET v = v + 1 WHERE id < 100',
];
const parseRuns = 20_000;
const parseStarted = performance.now();
for (let i = 0; i < parseRuns; i++) await parseStatements(sample[i % sample.length]);
const perStatementUs = ((performance.now() - parseStarted) / parseRuns) * 1000;

const ratio = median(ratios);
const sorted = [...ratios].sort((a, b) => a - b);
const summary = [
  {
    case: `check of ${COUNT} pending migrations (postgres)`,
    library: `${Math.round(median(checks))} ms`,
    comparison: `their up() in one rolled-back transaction, TypeORM alone: ${Math.round(median(raws))} ms`,
    ratio: `${ratio.toFixed(2)} (${sorted[0].toFixed(2)}-${sorted.at(-1).toFixed(2)})`,
    target: '<= 1.2',
    met: ratio <= 1.2,
  },
  {
    case: "PostgreSQL's parser (libpg-query), per statement once loaded",
    library: `${perStatementUs.toFixed(1)} µs`,
    comparison: `its first call in a fresh process (loads the WebAssembly): ${Math.round(loadMs)} ms`,
    ratio: '-',
    target: '-',
    met: true,
  },
];
console.log(`\ncheck, ${RUNS} interleaved runs, medians; ${machine()}; ${findings} findings per check\n`);
console.log(
  table(
    ['case', 'this library', 'compared with', 'ratio', 'target', 'met'],
    summary.map((row) => [row.case, row.library, row.comparison, row.ratio, row.target, row.met ? 'yes' : '**no**']),
  ),
);
if (values.json) console.log(`BENCH_JSON ${JSON.stringify(summary)}`);
