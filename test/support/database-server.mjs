// Fresh databases on the real servers, for the tests (test/support/databases.ts) and the benchmarks
// (bench/support.mjs) alike: create, query on a separate connection, list tables, drop.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';

/**
 * A fresh, empty database of `kind` ('postgres' | 'mariadb' | 'sqlite'), created through the admin
 * URL of its server (`servers.postgres` / `servers.mariadb`); its name starts with `prefix`.
 */
export async function createDatabase(kind, servers, prefix = 'am') {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  if (kind === 'postgres') return createPostgres(name, servers.postgres);
  if (kind === 'mariadb') {
    if (!servers.mariadb) throw new Error('MariaDB is not available');
    return createMariadb(name, servers.mariadb);
  }
  return createSqlite(name);
}

async function createPostgres(name, adminUrl) {
  await withPg(adminUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
  const url = withDatabase(adminUrl, name);
  const query = (sql) => withPg(url, async (client) => (await client.query(sql)).rows);
  return {
    kind: 'postgres',
    name,
    url,
    options: { type: 'postgres', url },
    query,
    tables: async () =>
      (await query(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)).map((row) => row.t),
    recorded: (table = 'migrations') => recorded(query, table),
    drop: () => withPg(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

async function createMariadb(name, adminUrl) {
  await withMysql(adminUrl, (connection) => connection.query(`CREATE DATABASE \`${name}\``));
  const url = withDatabase(adminUrl, name);
  const query = (sql) => withMysql(url, async (connection) => (await connection.query(sql))[0]);
  return {
    kind: 'mariadb',
    name,
    url,
    options: { type: 'mariadb', url },
    query,
    tables: async () =>
      (await query(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1`)).map((row) => row.t),
    recorded: (table = 'migrations') => recorded(query, table),
    drop: () => withMysql(adminUrl, (connection) => connection.query(`DROP DATABASE IF EXISTS \`${name}\``)).then(() => undefined),
  };
}

async function createSqlite(name) {
  const { default: Database } = await import('better-sqlite3');
  const dir = await mkdtemp(join(tmpdir(), 'auto-migrator-sqlite-'));
  const file = join(dir, `${name}.sqlite`);
  const query = async (sql) => {
    const db = new Database(file);
    try {
      const statement = db.prepare(sql);
      return statement.reader ? statement.all() : (statement.run(), []);
    } finally {
      db.close();
    }
  };
  return {
    kind: 'sqlite',
    name,
    url: file,
    options: { type: 'better-sqlite3', database: file },
    query,
    tables: async () =>
      (await query(`SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1`)).map((row) => row.t),
    recorded: (table = 'migrations') => recorded(query, table),
    // Retried: a connection a failed boot left open may still write a journal file as the directory goes.
    drop: () => rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }),
  };
}

async function recorded(query, table) {
  try {
    return (await query(`SELECT name FROM ${table} ORDER BY id`)).map((row) => row.name);
  } catch (error) {
    if (/does not exist|doesn't exist|no such table/i.test(String(error))) return [];
    throw error;
  }
}

/** Runs `use` on a new pg client for `url`, closed afterwards. */
export async function withPg(url, use) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** Runs `use` on a new MySQL/MariaDB connection for `url`, closed afterwards. */
export async function withMysql(url, use) {
  const connection = await mysql.createConnection({ uri: url });
  try {
    return await use(connection);
  } finally {
    await connection.end();
  }
}

function withDatabase(url, database) {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
