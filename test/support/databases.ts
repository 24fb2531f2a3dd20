import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createDatabase, withMysql, withPg, type CreatedDatabase, type DbKind } from './database-server.mjs';

/** The database kinds every integration suite runs against. */
export type { DbKind };
export const DB_KINDS: readonly DbKind[] = ['postgres', 'mariadb', 'sqlite'];

/** Why a kind's suite is skipped here, or undefined when it runs. */
export function skipReason(kind: DbKind): string | undefined {
  if (kind === 'mariadb' && inject('mysqlAdminUrl') === null) return inject('mysqlSkipReason');
  return undefined;
}

/** A database created for one test, dropped by `drop()`. */
export type TestDatabase = CreatedDatabase;

/** Creates a fresh, empty database of this kind. */
export function createTestDatabase(kind: DbKind): Promise<TestDatabase> {
  return createDatabase(kind, { postgres: inject('postgresAdminUrl'), mariadb: inject('mysqlAdminUrl') });
}

/** Runs SQL as the PostgreSQL admin (cluster-wide statements such as CREATE ROLE). */
export function postgresAdminQuery(sql: string): Promise<unknown> {
  return withPg(inject('postgresAdminUrl'), (client) => client.query(sql));
}

/**
 * A login role that owns this PostgreSQL test database, with `password`: a URL with that password
 * really connects, under trust or password authentication alike. `drop()` after the database.
 */
export async function createPostgresLoginRole(
  db: TestDatabase,
  password: string,
): Promise<{ role: string; url: string; drop(): Promise<void> }> {
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
export async function createMariadbLoginUser(
  db: TestDatabase,
  password: string,
): Promise<{ user: string; url: string; drop(): Promise<void> }> {
  const adminUrl = inject('mysqlAdminUrl');
  if (!adminUrl) throw new Error('MariaDB is not available');
  const user = `am_user_${randomBytes(4).toString('hex')}`;
  const quoted = password.replaceAll('\\', '\\\\').replaceAll("'", "\\'");
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
