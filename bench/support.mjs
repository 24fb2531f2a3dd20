// Shared by the benchmarks: fresh databases, spawned replicas, medians, the machine.
import { spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { DataSource } from 'typeorm';
import { createDatabase } from '../test/support/database-server.mjs';

export const PG_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const MYSQL_URL = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** A fresh database of this kind: { url, query(sql), drop() } (the tests' helper, on the bench's servers). */
export function freshDatabase(kind) {
  return createDatabase(kind, { postgres: PG_URL, mariadb: MYSQL_URL }, 'bench');
}

/** Runs `work(db)` on a fresh database of this kind, dropped afterwards. */
export async function onFreshDatabase(kind, work) {
  const db = await freshDatabase(kind);
  try {
    return await work(db);
  } finally {
    await db.drop();
  }
}

/** The kinds in a comma-separated list whose server answers; prints the ones skipped. */
export async function reachableKinds(list) {
  const kinds = [];
  for (const kind of list.split(',')) {
    if (await reachable(kind)) kinds.push(kind);
    else console.log(`${kind}: not reachable, skipped`);
  }
  return kinds;
}

/** Whether a server is reachable. */
export async function reachable(kind) {
  try {
    const db = await freshDatabase(kind);
    await db.drop();
    return true;
  } catch {
    return false;
  }
}

/**
 * Spawns `count` copies of a Node script that print READY once loaded and then wait for a line on
 * stdin; releases them all at once. Resolves { startedAt, results: [{ code, output }] }.
 */
export async function runTogether(script, count, env) {
  const children = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, NO_COLOR: '1', BARRIER: 'stdin', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    const ready = new Promise((resolve) => {
      child.stdout.on('data', (chunk) => {
        output += chunk;
        if (output.includes('READY')) resolve();
      });
    });
    child.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code: code ?? signal, output })));
    exited.then(() => {}); // keep output even if READY never came
    return { child, ready: Promise.race([ready, exited]), exited, output: () => output };
  });
  await Promise.all(children.map((c) => c.ready));
  const startedAt = Date.now();
  for (const c of children) c.child.stdin.end('go\n');
  const results = await Promise.all(children.map((c) => c.exited));
  return { startedAt, results };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function machine() {
  const cpu = cpus();
  return `${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/** Prints rows as a Markdown table. */
export function table(header, rows) {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/**
 * The migrations' up() in one transaction, rolled back, by TypeORM alone on the database at `url`
 * (PostgreSQL): the bare work of an in-place dry run. Resolves { ms }.
 */
export async function timeRolledBackRun(url, migrations) {
  const dataSource = await new DataSource({ type: 'postgres', url, migrations, logging: false }).initialize();
  try {
    const runner = dataSource.createQueryRunner();
    const started = performance.now();
    await runner.startTransaction();
    for (const migration of dataSource.migrations) await migration.up(runner);
    await runner.rollbackTransaction();
    const ms = performance.now() - started;
    await runner.release();
    return { ms };
  } finally {
    await dataSource.destroy();
  }
}

/** A migration class named `name` whose up() runs `statements` one by one (down() does nothing). */
export function sqlMigration(name, statements) {
  return {
    [name]: class {
      async up(q) {
        for (const statement of statements) await q.query(statement);
      }
      async down() {}
    },
  }[name];
}
