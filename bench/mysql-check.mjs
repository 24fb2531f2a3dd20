// What `check` on MySQL/MariaDB costs and does to the running release: a live table of ROWS rows
// (default 200,000) among TABLES tables (default 20 and 200, each with an index), serving one
// insert and one read every 20 ms from another process (bench/stall-load.mjs, loopback). Pending:
// a nullable column (instant), an index (in place, writes go on) and an int to bigint change (a
// table copy). check() runs them in a temporary shadow with the live schema; compared in the same
// run, interleaved: the same migration run for real by TypeORM (`runMigrations`) on a copy of the
// data, which is what the deploy will do. Medians of RUNS.
// Run by hand:  npm run build && node bench/mysql-check.mjs [--runs 3] [--tables 20,200] [--rows 200000] [--json]
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { machine, median, onFreshDatabase, reachable, sqlMigration, table } from './support.mjs';
import { timeCheck, underLoad } from './check-support.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    tables: { type: 'string', default: '20,200' },
    rows: { type: 'string', default: '200000' },
    json: { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const ROWS = Number(values.rows);

const pending = () => [
  sqlMigration('NextBuild1700000000001', [
    'ALTER TABLE big ADD COLUMN note VARCHAR(80) NULL',
    'CREATE INDEX big_v ON big (v)',
    'ALTER TABLE big MODIFY v BIGINT',
  ]),
];

async function seed(db, tables) {
  await db.query('CREATE TABLE big (id INT AUTO_INCREMENT PRIMARY KEY, v INT, label VARCHAR(40))');
  await db.query(`INSERT INTO big (v, label) SELECT seq % 1000, CONCAT('row ', seq) FROM seq_1_to_${ROWS}`);
  await db.query('ANALYZE TABLE big');
  for (let i = 1; i < tables; i++) {
    await db.query(`CREATE TABLE t${i} (id INT PRIMARY KEY, label VARCHAR(50), created DATETIME DEFAULT CURRENT_TIMESTAMP)`);
    await db.query(`CREATE INDEX t${i}_label ON t${i} (label)`);
  }
}

/** The migration run for real by TypeORM alone (what the deploy does), after which it is gone again. */
async function timeRealRun(url) {
  const dataSource = new DataSource({ type: 'mariadb', url, migrations: pending(), logging: false });
  await dataSource.initialize();
  try {
    const started = performance.now();
    await dataSource.runMigrations({ transaction: 'each' });
    const ms = performance.now() - started;
    // Back to the live schema for the next run.
    await dataSource.query('ALTER TABLE big MODIFY v INT, DROP INDEX big_v, DROP COLUMN note');
    await dataSource.query('DELETE FROM migrations');
    return { ms };
  } finally {
    await dataSource.destroy();
  }
}

if (!(await reachable('mariadb'))) {
  console.log('mariadb: not reachable, skipped');
  process.exit(0);
}
const rows = [];
const summary = [];
for (const tables of values.tables.split(',').map(Number)) {
  const taken = { check: [], real: [] };
  let findings = [];
  await onFreshDatabase('mariadb', async (db) => {
    await seed(db, tables);
    for (let run = 0; run < RUNS; run++) {
      const order = run % 2 === 0 ? ['real', 'check'] : ['check', 'real'];
      for (const which of order) {
        const result = await underLoad(db.url, 'big', () =>
          which === 'real' ? timeRealRun(db.url) : timeCheck('mariadb', db.url, pending()),
        );
        taken[which].push(result);
        if (result.findings) findings = result.findings;
      }
    }
  });
  const m = (which, key) => Math.round(median(taken[which].map((one) => one[key])));
  const range = (which, key) => taken[which].map((one) => Math.round(one[key])).join(', ');
  rows.push(
    [
      `${tables} tables: how long it took`,
      `${m('check', 'ms')} ms (${range('check', 'ms')})`,
      `${m('real', 'ms')} ms (${range('real', 'ms')})`,
    ],
    [
      `${tables} tables: the release's longest insert`,
      `${m('check', 'maxInsertMs')} ms (${range('check', 'maxInsertMs')})`,
      `${m('real', 'maxInsertMs')} ms (${range('real', 'maxInsertMs')})`,
    ],
    [`${tables} tables: its longest read`, `${m('check', 'maxReadMs')} ms`, `${m('real', 'maxReadMs')} ms`],
  );
  summary.push({
    case: `MySQL/MariaDB check, ${tables} tables, ${ROWS.toLocaleString('en-US')} rows: the release's longest insert`,
    library: `${m('check', 'maxInsertMs')} ms`,
    comparison: `the migration run for real: ${m('real', 'maxInsertMs')} ms`,
    ratio: '-',
    target: '< 200 ms',
    met: m('check', 'maxInsertMs') < 200,
  });
  console.log(`${tables} tables: findings ${findings.join(', ')}`);
}
console.log(`\ncheck on MariaDB, ${RUNS} interleaved runs, medians; ${machine()}\n`);
console.log(table(['case', 'check() in a temporary shadow', 'the migration run for real'], rows));
if (values.json) console.log(`BENCH_JSON ${JSON.stringify(summary)}`);
