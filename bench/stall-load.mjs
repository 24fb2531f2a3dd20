// The running release, for bench/check-stall.mjs: after the start signal, one insert and one read
// of STALL_TABLE every 20 ms on its own connection (DB_URL, loopback), timing each, until a line
// on stdin (or MAX_MS) stops it; prints RUNNING after its first round, then one JSON line:
// { rounds, maxInsertMs, maxReadMs, failed }.
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { awaitStartSignal, stopSignal } from '../test/fixtures/start-signal.mjs';

const client = new pg.Client({ connectionString: process.env.DB_URL, application_name: 'bench release' });
await client.connect();
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
