import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { DataSourceOptions } from 'typeorm';
import { inject } from 'vitest';

/** The database kinds every integration suite runs against. */
export type DbKind = 'postgres' | 'mariadb' | 'sqlite';
export const DB_KINDS: readonly DbKind[] = ['postgres', 'mariadb', 'sqlite'];

/** Why a kind's suite is skipped here, or undefined when it runs. */
export function skipReason(kind: DbKind): string | undefined {
  if (kind === 'mariadb' && inject('mysqlAdminUrl') === null) return inject('mysqlSkipReason');
  return undefined;
}

/** A database created for one test, dropped by `drop()`. */
export interface TestDatabase {
  readonly kind: DbKind;
  readonly name: string;
  /** TypeORM connection options for it (no migrations, no entities). */
  readonly options: DataSourceOptions;
  /** A URL for it (SQLite: the file path). */
  readonly url: string;
  /** Runs SQL on a separate connection and returns the rows. */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Table names, sorted. */
  tables(): Promise<string[]>;
  /** Names recorded in the migrations table, in insertion order ([] when the table is absent). */
  recorded(table?: string): Promise<string[]>;
  drop(): Promise<void>;
}

/** Creates a fresh, empty database of this kind. */
export async function createTestDatabase(kind: DbKind): Promise<TestDatabase> {
  const name = `am_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  if (kind === 'postgres') return createPostgres(name);
  if (kind === 'mariadb') return createMariadb(name);
  return createSqlite(name);
}

/** Runs SQL as the PostgreSQL admin (cluster-wide statements such as CREATE ROLE). */
export function postgresAdminQuery(sql: string): Promise<unknown> {
  return withPg(inject('postgresAdminUrl'), (client) => client.query(sql));
}

/**
 * A login role that owns this PostgreSQL test database, with `password`: a URL with that password
 * really connects, under trust or password authentication alike. `drop()` after the database.
 */
export async function createPostgresLoginRole(db: TestDatabase, password: string): Promise<{ role: string; url: string; drop(): Promise<void> }> {
  const role = `am_role_${randomBytes(4).toString('hex')}`;
  await postgresAdminQuery(`CREATE ROLE ${role} LOGIN PASSWORD '${password.replaceAll("'", "''")}'`);
  await postgresAdminQuery(`ALTER DATABASE "${db.name}" OWNER TO ${role}`);
  await db.query(`ALTER SCHEMA public OWNER TO ${role}`);
  const url = new URL(db.url);
  url.username = role;
  url.password = password;
  return { role, url: url.toString(), drop: () => postgresAdminQuery(`DROP ROLE IF EXISTS ${role}`).then(() => undefined) };
}

/**
 * A MariaDB user with `password` and every privilege on this test database: a URL with that
 * password really connects. `drop()` after the database.
 */
export async function createMariadbLoginUser(db: TestDatabase, password: string): Promise<{ user: string; url: string; drop(): Promise<void> }> {
  const adminUrl = inject('mysqlAdminUrl');
  if (!adminUrl) throw new Error('MariaDB is not available');
  const user = `am_user_${randomBytes(4).toString('hex')}`;
  const quoted = password.replaceAll("\\", "\\\\").replaceAll("'", "\\'");
  await withMysql(adminUrl, async (connection) => {
    await connection.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${quoted}'`);
    await connection.query(`GRANT ALL PRIVILEGES ON \`${db.name}\`.* TO '${user}'@'%'`);
  });
  const url = new URL(db.url);
  url.username = user;
  url.password = password;
  return {
    user,
    url: url.toString(),
    drop: () => withMysql(adminUrl, (connection) => connection.query(`DROP USER IF EXISTS '${user}'@'%'`)).then(() => undefined),
  };
}

async function createPostgres(name: string): Promise<TestDatabase> {
  const adminUrl = inject('postgresAdminUrl');
  await withPg(adminUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
  const url = withDatabase(adminUrl, name);
  const query = <T>(sql: string) => withPg(url, async (client) => (await client.query(sql)).rows as T[]);
  return {
    kind: 'postgres',
    name,
    url,
    options: { type: 'postgres', url },
    query,
    tables: async () =>
      (
        await query<{ t: string }>(
          `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
        )
      ).map((row) => row.t),
    recorded: (table = 'migrations') => recorded(query, table),
    drop: () => withPg(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

async function createMariadb(name: string): Promise<TestDatabase> {
  const adminUrl = inject('mysqlAdminUrl');
  if (!adminUrl) throw new Error('MariaDB is not available');
  await withMysql(adminUrl, (connection) => connection.query(`CREATE DATABASE \`${name}\``));
  const url = withDatabase(adminUrl, name);
  const query = <T>(sql: string) =>
    withMysql(url, async (connection) => (await connection.query(sql))[0] as T[]);
  return {
    kind: 'mariadb',
    name,
    url,
    options: { type: 'mariadb', url },
    query,
    tables: async () =>
      (
        await query<{ t: string }>(
          `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1`,
        )
      ).map((row) => row.t),
    recorded: (table = 'migrations') => recorded(query, table),
    drop: () => withMysql(adminUrl, (connection) => connection.query(`DROP DATABASE IF EXISTS \`${name}\``)).then(() => undefined),
  };
}

async function createSqlite(name: string): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'auto-migrator-sqlite-'));
  const file = join(dir, `${name}.sqlite`);
  const query = async <T>(sql: string): Promise<T[]> => {
    const db = new Database(file);
    try {
      const statement = db.prepare(sql);
      return (statement.reader ? statement.all() : (statement.run(), [])) as T[];
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
      (
        await query<{ t: string }>(
          `SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1`,
        )
      ).map((row) => row.t),
    recorded: (table = 'migrations') => recorded(query, table),
    drop: () => rm(dir, { recursive: true, force: true }),
  };
}

async function recorded(query: <T>(sql: string) => Promise<T[]>, table: string): Promise<string[]> {
  try {
    return (await query<{ name: string }>(`SELECT name FROM ${table} ORDER BY id`)).map((row) => row.name);
  } catch (error) {
    if (/does not exist|doesn't exist|no such table/i.test(String(error))) return [];
    throw error;
  }
}

async function withPg<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function withMysql<T>(url: string, use: (connection: mysql.Connection) => Promise<T>): Promise<T> {
  const connection = await mysql.createConnection({ uri: url });
  try {
    return await use(connection);
  } finally {
    await connection.end();
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
