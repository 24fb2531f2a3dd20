// Shared by the benchmarks: fresh databases, spawned replicas, medians, the machine.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';

export const PG_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const MYSQL_URL = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

function withDatabase(url, name) {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** A fresh database of this kind: { url, drop() }. */
export async function freshDatabase(kind) {
  const name = `bench_${randomBytes(5).toString('hex')}`;
  if (kind === 'postgres') {
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.end();
    return {
      url: withDatabase(PG_URL, name),
      query: async (sql) => {
        const client = new pg.Client({ connectionString: withDatabase(PG_URL, name) });
        await client.connect();
        try {
          return (await client.query(sql)).rows;
        } finally {
          await client.end();
        }
      },
      drop: async () => {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await client.end();
      },
    };
  }
  if (kind === 'mariadb') {
    const admin = await mysql.createConnection({ uri: MYSQL_URL });
    await admin.query(`CREATE DATABASE \`${name}\``);
    await admin.end();
    return {
      url: withDatabase(MYSQL_URL, name),
      query: async (sql) => {
        const connection = await mysql.createConnection({ uri: withDatabase(MYSQL_URL, name) });
        try {
          return (await connection.query(sql))[0];
        } finally {
          await connection.end();
        }
      },
      drop: async () => {
        const connection = await mysql.createConnection({ uri: MYSQL_URL });
        await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
        await connection.end();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-sqlite-'));
  const file = join(dir, `${name}.sqlite`);
  const { default: Database } = await import('better-sqlite3');
  return {
    url: file,
    query: async (sql) => {
      const db = new Database(file);
      try {
        return db.prepare(sql).all();
      } finally {
        db.close();
      }
    },
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
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
