// The running release, for bench/check-stall.mjs and bench/mysql-check.mjs: after the start
// signal, one insert and one read of STALL_TABLE every 20 ms on its own connection (DB_URL, a
// postgres:// or mysql:// URL on loopback), timing each, until a line on stdin (or MAX_MS) stops
// it; prints RUNNING after its first round, then one JSON line: { rounds, maxInsertMs, maxReadMs, failed }.
import pg from 'pg';
import mysql from 'mysql2/promise';
import { setTimeout as sleep } from 'node:timers/promises';
import { awaitStartSignal, stopSignal } from '../test/fixtures/start-signal.mjs';

const url = process.env.DB_URL;
/** The release's one connection, with PostgreSQL's placeholders ($1) either way. */
const client = url.startsWith('mysql')
  ? await (async () => {
      const connection = await mysql.createConnection(url);
      return { query: (sql, values) => connection.query(sql.replace(/\$\d+/g, '?'), values), end: () => connection.end() };
    })()
  : await (async () => {
      const connection = new pg.Client({ connectionString: url, application_name: 'bench release' });
      await connection.connect();
      return connection;
    })();
await awaitStartSignal();
const stopped = stopSignal();
const deadline = Date.now() + Number(process.env.MAX_MS ?? 600_000);
const table = process.env.STALL_TABLE;
let rounds = 0;
let failed = 0;
let maxInsertMs = 0;
let maxReadMs = 0;
while (!stopped() && Date.now() < deadline) {
  const round = performance.now();
  try {
    let started = performance.now();
    await client.query(`INSERT INTO ${table} (v, label) VALUES ($1, 'load')`, [rounds % 1000]);
    maxInsertMs = Math.max(maxInsertMs, performance.now() - started);
    started = performance.now();
    await client.query(`SELECT label FROM ${table} WHERE id = $1`, [1 + (rounds % 1000)]);
    maxReadMs = Math.max(maxReadMs, performance.now() - started);
  } catch {
    failed++;
  }
  rounds++;
  if (rounds === 1) console.log('RUNNING');
  await sleep(Math.max(0, 20 - (performance.now() - round)));
}
console.log(JSON.stringify({ rounds, maxInsertMs: Math.round(maxInsertMs), maxReadMs: Math.round(maxReadMs), failed }));
await client.end();
process.exit(0);
