// The shadow's copy of the live schema (PostgreSQL), on real databases: for each database named,
// pg_dump --schema-only and the library's own copy from the catalog, each loaded into an empty
// database and held against the source by the catalog's own description of every object
// (test/support/schema-fingerprint.mjs). Reports, per database, the objects, the differences of
// each copy (there should be none) and what each copy and its load take, medians of --runs.
// The databases are yours: fill them first, e.g. with real TypeORM histories (bench/README.md says
// which were used and how). Run by hand:
//   npm run build && node bench/schema-copy.mjs [--runs 3] hist_gauzy hist_oneuptime hist_misskey
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { copyFromCatalog } from '../dist/check/shadow/catalog-copy.js';
import { applySchema, dumpSchema } from '../dist/check/shadow/schema-copy.js';
import { schemaFingerprint } from '../test/support/schema-fingerprint.mjs';
import { freshDatabase, machine, median, PG_URL, table } from './support.mjs';

const { values, positionals } = parseArgs({ options: { runs: { type: 'string', default: '3' } }, allowPositionals: true });
const RUNS = Number(values.runs);
if (positionals.length === 0) {
  console.error('Name the databases to copy: node bench/schema-copy.mjs [--runs 3] <database>…');
  process.exit(2);
}

const urlOf = (database) => {
  const url = new URL(PG_URL);
  url.pathname = `/${database}`;
  return url.toString();
};

/** Loads `sql` into a fresh database; resolves { ms, differences, db } (db to drop). */
async function load(sql, expected) {
  const db = await freshDatabase('postgres');
  const target = await new DataSource({ type: 'postgres', url: db.url }).initialize();
  const runner = target.createQueryRunner();
  const started = performance.now();
  try {
    await applySchema(runner, sql);
  } finally {
    await runner.release();
    await target.destroy();
  }
  const ms = performance.now() - started;
  const got = await schemaFingerprint(db);
  const missing = expected.filter((line) => !got.includes(line));
  const extra = got.filter((line) => !expected.includes(line));
  await db.drop();
  return { ms, differences: [...missing.map((line) => `- ${line}`), ...extra.map((line) => `+ ${line}`)] };
}

const rows = [];
for (const database of positionals) {
  const live = await new DataSource({ type: 'postgres', url: urlOf(database) }).initialize();
  try {
    const [{ major }] = await live.query(`SELECT current_setting('server_version_num')::int / 10000 AS major`);
    const expected = await schemaFingerprint(live);
    const runs = { dump: [], dumpLoad: [], catalog: [], catalogLoad: [] };
    let dumpDifferences = [];
    let catalogDifferences = [];
    let uncopied = [];
    for (let run = 0; run < RUNS; run++) {
      // Interleaved: pg_dump, then the catalog, each run.
      let started = performance.now();
      const dump = await dumpSchema(live, major);
      runs.dump.push(performance.now() - started);
      if (!('sql' in dump)) throw new Error(`pg_dump: ${dump.unavailable}`);
      const loadedDump = await load(dump.sql, expected);
      runs.dumpLoad.push(loadedDump.ms);
      dumpDifferences = loadedDump.differences;
      started = performance.now();
      const copy = await copyFromCatalog(live);
      runs.catalog.push(performance.now() - started);
      uncopied = copy.uncopied;
      const loadedCopy = await load(copy.statements.join('\n'), expected);
      runs.catalogLoad.push(loadedCopy.ms);
      catalogDifferences = loadedCopy.differences;
    }
    for (const [name, differences] of [
      ['pg_dump', dumpDifferences],
      ['catalog', catalogDifferences],
    ]) {
      if (differences.length > 0)
        console.log(`${database}, ${name} copy: ${differences.length} difference(s)\n${differences.slice(0, 20).join('\n')}`);
    }
    const ms = (values) => `${Math.round(median(values))} ms`;
    rows.push([
      database,
      expected.length.toLocaleString('en-US'),
      `${ms(runs.dump)} + ${ms(runs.dumpLoad)}`,
      String(dumpDifferences.length),
      `${ms(runs.catalog)} + ${ms(runs.catalogLoad)}`,
      String(catalogDifferences.length),
      uncopied.length === 0 ? '-' : uncopied.join(', '),
    ]);
  } finally {
    await live.destroy();
  }
}
console.log(`\nThe live schema copied into an empty database; medians of ${RUNS} run(s); ${machine()}\n`);
console.log(
  table(
    [
      'database',
      'objects (catalog lines)',
      'pg_dump: copy + load',
      'differences',
      'catalog copy: read + load',
      'differences',
      'not copied',
    ],
    rows,
  ),
);
