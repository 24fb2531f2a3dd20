import type { DataSourceOptions } from 'typeorm';

const DEFAULT_PORTS: Record<string, number> = { postgres: 5432, mysql: 3306, mariadb: 3306 };

/**
 * Where a DataSource connects, for an error message, never with its password: the database type,
 * `host:port/database` and the user, as its `url` (which wins, as in TypeORM) and its options give
 * them. For example `postgres 127.0.0.1:5432/app, user "app"`, or the file of a SQLite database.
 */
export function describeConnectionTarget(options: DataSourceOptions): string {
  const given = options as { type: string; url?: string; host?: string; port?: number; database?: unknown; username?: string };
  if (given.type === 'better-sqlite3' || given.type === 'sqlite') return `${given.type} file ${String(given.database ?? '(none)')}`;
  let { host, port, username } = given;
  let database = typeof given.database === 'string' ? given.database : undefined;
  if (given.url) {
    try {
      const url = new URL(given.url);
      host = url.hostname || host;
      port = url.port ? Number(url.port) : port;
      database = decodeURIComponent(url.pathname.replace(/^\//, '')) || database;
      username = url.username ? decodeURIComponent(url.username) : username;
    } catch {
      return `${given.type} at a "url" that is not a valid URL`;
    }
  }
  const where = `${host ?? 'localhost'}:${port ?? DEFAULT_PORTS[given.type] ?? '(default port)'}/${database ?? '(no database)'}`;
  const unset = namesNoServer(options) ? ' (no url and no host in its options: is the environment variable it reads set?)' : '';
  return `${given.type} ${where}, ${username ? `user "${username}"` : 'no user name'}${unset}`;
}

/** A server DataSource whose options give neither a `url` nor a `host` (a variable it reads is unset, usually). */
export function namesNoServer(options: DataSourceOptions): boolean {
  const given = options as { type: string; url?: string; host?: string };
  return given.type !== 'better-sqlite3' && given.type !== 'sqlite' && !given.url && !given.host;
}
