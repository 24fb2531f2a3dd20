import { execFile } from 'node:child_process';
import type { DataSource, DataSourceOptions, QueryRunner } from 'typeorm';
import { quoteIdentifier, quoteLiteral } from '../../util/sql-identifier.js';
import { LIVE_LOCK_WAIT_MS } from '../table-facts.js';
import { copyFromCatalog } from './catalog-copy.js';

/** The live schema as SQL, or why it could not be copied: what is missing, said so that the reader can fix it. */
export type SchemaDump = { readonly sql: string } | { readonly unavailable: string };

/** The most a schema dump may print, in bytes (a schema of thousands of tables stays far below). */
const MAX_DUMP_BYTES = 512 * 1024 * 1024;

/**
 * libpq's environment for the server and database a DataSource connects to, as its `url` (which
 * wins, as in TypeORM) and options give them: for pg_dump, which then never sees the password on its
 * command line. A password given as a function is called, as the driver would.
 */
export async function libpqEnvironment(options: DataSourceOptions): Promise<Record<string, string>> {
  const given = options as {
    url?: string;
    host?: string;
    port?: number;
    username?: string;
    password?: string | (() => string | Promise<string>);
    database?: string;
    ssl?: unknown;
  };
  let { host, port, username, database } = given;
  let password = typeof given.password === 'function' ? await given.password() : given.password;
  let sslmode: string | undefined = given.ssl ? 'require' : undefined;
  if (given.url) {
    const url = new URL(given.url);
    host = url.hostname ? decodeURIComponent(url.hostname) : host;
    port = url.port ? Number(url.port) : port;
    username = url.username ? decodeURIComponent(url.username) : username;
    password = url.password ? decodeURIComponent(url.password) : password;
    database = decodeURIComponent(url.pathname.replace(/^\//, '')) || database;
    sslmode = url.searchParams.get('sslmode') ?? (url.searchParams.get('ssl') === 'true' ? 'require' : sslmode);
  }
  const env: Record<string, string | undefined> = {
    PGHOST: host,
    PGPORT: port === undefined ? undefined : String(port),
    PGUSER: username,
    PGPASSWORD: password,
    PGDATABASE: database,
    PGSSLMODE: sslmode,
    PGAPPNAME: 'auto-migrator check (schema copy)',
  };
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/**
 * The DataSource's options with its primary's connection in place of `replication` (which TypeORM
 * would follow instead of `database` and `url`): a shadow is one database, on the primary's server.
 */
export function primaryOptions(options: DataSourceOptions): DataSourceOptions {
  const { replication, ...rest } = options as DataSourceOptions & { replication?: { master?: object } };
  return replication?.master ? ({ ...rest, ...replication.master } as DataSourceOptions) : options;
}

/** The live schema as SQL, and how it was had when not by pg_dump (why, and what the library's own copy leaves out). */
export interface SchemaCopy {
  readonly sql: string;
  readonly note?: { readonly text: string; readonly incomplete: boolean };
}

/**
 * The live database's schema as SQL: pg_dump's (see {@link dumpSchema}), or, where no pg_dump of the
 * server's version can be had, the library's own copy from the catalog (see copyFromCatalog), with
 * a note saying so and naming what that copy leaves out.
 */
export async function copyLiveSchema(live: DataSource, serverMajor: number): Promise<SchemaCopy> {
  const dump = await dumpSchema(live, serverMajor);
  if ('sql' in dump) return { sql: dump.sql };
  const copy = await copyFromCatalog(live);
  const without =
    copy.uncopied.length === 0
      ? ''
      : `; it leaves out ${copy.uncopied.join(', ')}: a pending migration that uses them fails in the shadow and is listed as not checked`;
  return {
    sql: copy.statements.join('\n'),
    note: {
      text: `${dump.unavailable}, so the live schema is copied from its catalog by the library${without}`,
      incomplete: without !== '',
    },
  };
}

/**
 * The live database's schema as SQL, from `pg_dump --schema-only` (no data, owners, privileges,
 * publications, subscriptions or tablespaces). Needs a pg_dump of at least the server's major
 * version on the PATH: otherwise says which one is missing. pg_dump reads the catalog in a
 * REPEATABLE READ transaction and takes ACCESS SHARE on each table.
 */
export async function dumpSchema(live: DataSource, serverMajor: number): Promise<SchemaDump> {
  let version: string;
  try {
    version = await run('pg_dump', ['--version'], process.env);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return {
      unavailable: `pg_dump is not on the PATH (Debian/Ubuntu: apt-get install postgresql-client-${serverMajor}; Alpine: apk add postgresql${serverMajor}-client)`,
    };
  }
  const major = Number(/(\d+)(?:\.\d+)?/.exec(version)?.[1] ?? Number.NaN);
  if (!(major >= serverMajor)) {
    return {
      unavailable: `the pg_dump on the PATH is version ${major || version.trim()}, older than the server's ${serverMajor}: install postgresql-client-${serverMajor} or newer`,
    };
  }
  const env = { ...process.env, ...(await libpqEnvironment(primaryOptions(live.options))) };
  const args = [
    '--schema-only',
    '--no-owner',
    '--no-privileges',
    '--no-publications',
    '--no-subscriptions',
    '--no-security-labels',
    '--no-tablespaces',
    // Waiting behind a lock someone holds would be felt by nobody, but it would stall the check.
    `--lock-wait-timeout=${LIVE_LOCK_WAIT_MS}`,
  ];
  try {
    return { sql: await run('pg_dump', args, env) };
  } catch (error) {
    // A table another session locks (a migration running there): the catalog copy takes no table lock.
    const locked = /LOCK TABLE (\S+) IN ACCESS SHARE MODE/.exec((error as Error).message);
    if (!locked || !/statement timeout|lock timeout/.test((error as Error).message)) throw error;
    return {
      unavailable: `pg_dump waited ${LIVE_LOCK_WAIT_MS / 1000} s for a lock on ${locked[1]} that another session holds (a migration running there?)`,
    };
  }
}

/**
 * Runs a dump in `queryRunner`'s database, as one simple query (one implicit transaction), and puts
 * the session's settings back (the dump sets search_path to nothing, among others). psql's own
 * commands (`\restrict`, `\connect`) are left out: they are not SQL.
 */
export async function applySchema(queryRunner: QueryRunner, dump: string): Promise<void> {
  const sql = dump
    .split('\n')
    .filter((line) => !line.startsWith('\\'))
    .join('\n');
  try {
    await queryRunner.query(sql);
  } catch (error) {
    // Where it failed: the start of the line PostgreSQL points at (a name, not a function body).
    const position = Number((error as { position?: unknown }).position);
    if (error instanceof Error && Number.isInteger(position) && position > 0) {
      const start = sql.lastIndexOf('\n', position - 1) + 1;
      error.message = `copying the live schema into the shadow failed at "${sql.slice(start, start + 80).split('\n')[0]}": ${error.message}`;
    }
    throw error;
  }
  await queryRunner.query('RESET ALL');
}

/**
 * `ALTER DATABASE … SET …` for each setting the live database has (`pg_db_role_setting`, for every
 * role), written as pg_dump writes them: list settings (search_path) element by element.
 */
export function databaseSettingStatements(database: string, settings: readonly string[]): string[] {
  return settings.map((setting) => {
    const at = setting.indexOf('=');
    const name = setting.slice(0, at);
    const value = setting.slice(at + 1);
    const values = LIST_SETTINGS.has(name.toLowerCase()) ? splitList(value).map(quoteLiteral).join(', ') : quoteLiteral(value);
    return `ALTER DATABASE ${quoteIdentifier(database)} SET ${quoteIdentifier(name)} TO ${values}`;
  });
}

/** Settings PostgreSQL reads as a list of names (GUC_LIST_QUOTE): each element is given on its own. */
const LIST_SETTINGS = new Set(['search_path', 'temp_tablespaces', 'session_preload_libraries', 'local_preload_libraries']);

/** `"$user", public, "a ""b"""` → `$user`, `public`, `a "b"`. */
function splitList(value: string): string[] {
  const items: string[] = [];
  const pattern = /\s*(?:"((?:[^"]|"")*)"|([^,\s]+))\s*(?:,|$)/gy;
  let match: RegExpExecArray | null;
  while (pattern.lastIndex < value.length && (match = pattern.exec(value)) !== null) {
    items.push(match[1] !== undefined ? match[1].replaceAll('""', '"') : match[2]!);
  }
  return items;
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env, maxBuffer: MAX_DUMP_BYTES, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        const failed = error as NodeJS.ErrnoException & { stderr?: string };
        if (failed.code !== 'ENOENT') failed.message = `${command} failed: ${stderr.trim() || error.message}`;
        reject(failed);
        return;
      }
      resolve(stdout);
    });
  });
}
