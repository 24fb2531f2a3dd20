import { randomBytes } from 'node:crypto';
import type { DataSource, QueryRunner } from 'typeorm';
import { AutoMigratorConfigError } from '../../errors/auto-migrator-config.error.js';
import { invariant } from '../../errors/invariant.error.js';
import { mysqlServerWideCheck } from '../sql/server-wide-statements.js';
import { copyMysqlSchema, identifier, type MysqlSchemaCopy } from './mysql-schema-copy.js';
import {
  connect,
  disconnect,
  ShadowDatabase,
  shadowTarget,
  STALE_AFTER_MS,
  type ShadowContext,
  type ShadowOption,
  type ShadowPurpose,
} from './shadow-database.js';

/** The names the library gives its temporary databases (as on PostgreSQL). */
const TEMPORARY_PREFIX = 'auto_migrator_shadow_';

/** What a MySQL/MariaDB database says of itself: its name, defaults and the server's version. */
interface MysqlFacts {
  readonly database: string;
  readonly charset: string;
  readonly collation: string;
  readonly version: string;
}

async function readFacts(runner: QueryRunner): Promise<MysqlFacts> {
  const [row] = (await runner.query(
    `SELECT DATABASE() AS db, VERSION() AS version,
       (SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()) AS charset,
       (SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()) AS collation`,
  )) as Array<{ db: string | null; version: string; charset: string; collation: string }>;
  invariant(row?.db, 'the MySQL/MariaDB session has no current database');
  return { database: row.db, charset: row.charset, collation: row.collation, version: String(row.version) };
}

/**
 * Whether two sessions are on the same server, asked of the server itself: a named lock one
 * session takes is seen held by the other only there (lock names are the server's, whatever the
 * host names, ports or proxies in between).
 */
async function sameServer(live: DataSource, shadow: QueryRunner): Promise<boolean> {
  const runner = live.createQueryRunner();
  const name = `auto_migrator_probe_${randomBytes(8).toString('hex')}`;
  try {
    await runner.query('SELECT GET_LOCK(?, 0) AS got', [name]);
    const [row] = (await shadow.query('SELECT IS_USED_LOCK(?) AS holder', [name])) as Array<{ holder: unknown }>;
    return row?.holder !== null && row?.holder !== undefined;
  } finally {
    await runner.query('SELECT RELEASE_LOCK(?) AS released', [name]).catch(() => undefined);
    await runner.release();
  }
}

/**
 * MySQL/MariaDB, a shadow: the empty database at `option.url`, or a temporary database on the live
 * server with the live one's character set and collation (CREATE needed), dropped at the end.
 * For a dry run (`plan`) it is filled with the live schema (see copyMysqlSchema); for a replay of
 * the history it stays empty, and the live server is refused unless `onLiveServer` allows it.
 * Its migrations commit as they run (MySQL commits DDL): it is always thrown away.
 */
export async function openMysqlShadow(
  live: DataSource,
  option: ShadowOption,
  context: ShadowContext,
  purpose: ShadowPurpose,
): Promise<ShadowDatabase> {
  const replay = purpose.kind === 'replay';
  const onLiveServer = !replay || purpose.onLiveServer;
  const liveRunner = live.createQueryRunner();
  let facts: MysqlFacts;
  try {
    facts = await readFacts(liveRunner);
  } finally {
    await liveRunner.release();
  }
  if (option.url !== undefined) return openGivenMysql(live, option.url, facts, context, onLiveServer, replay);
  if (!onLiveServer) {
    throw new AutoMigratorConfigError(
      `${context.label}: replaying the history runs every applied migration's code again, and a temporary database for it would be on the live server: ` +
        `give an empty database on another server (--shadow-url <url>, or SHADOW_DATABASE_URL), or allow the live server (--replay-on-live-server).`,
    );
  }
  await dropStaleMysqlShadows(live);
  const name = `${TEMPORARY_PREFIX}${Date.now().toString(36)}_${process.pid}_${randomBytes(3).toString('hex')}`;
  const quoted = `\`${name}\``;
  try {
    await live.query(`CREATE DATABASE ${quoted} CHARACTER SET ${identifier(facts.charset)} COLLATE ${identifier(facts.collation)}`);
  } catch (error) {
    throw new AutoMigratorConfigError(
      `${context.label}: ${replay ? 'the history is replayed' : 'the pending migrations run'} in a temporary database, and the live user cannot create one ` +
        `(${context.redactor.message(error)}): give an empty database as the shadow (--shadow-url <url>, or SHADOW_DATABASE_URL), or grant CREATE and DROP on ${TEMPORARY_PREFIX}% databases.`,
      { cause: error },
    );
  }
  const drop = () => live.query(`DROP DATABASE IF EXISTS ${quoted}`);
  let connected: { dataSource: DataSource; queryRunner: QueryRunner } | undefined;
  try {
    connected = await connect(live, { database: name }, context);
    // Held while the shadow is in use: a run killed before it dropped its database leaves it free, and stale (see dropStaleMysqlShadows).
    await connected.queryRunner.query('SELECT GET_LOCK(?, 0) AS held', [name]);
    const [where] = (await connected.queryRunner.query('SELECT DATABASE() AS name')) as Array<{ name: string }>;
    invariant(where?.name === name, `the shadow connection reached database "${where?.name}", not the temporary "${name}"`);
    if (!replay) sayCopied(await fill(live, connected.queryRunner), context);
  } catch (error) {
    await disconnect(connected);
    await drop().catch(() => undefined);
    throw error;
  }
  context.logger.log(
    replay
      ? `${context.label}: the applied migrations are replayed in a temporary database, "${name}", on the live server`
      : `${context.label}: the pending migrations run in a temporary database, "${name}", with the live schema`,
  );
  const opened = connected;
  return new ShadowDatabase(opened.dataSource, opened.queryRunner, undefined, `temporary database "${name}"`, true, async () => {
    await disconnect(opened);
    await drop();
  });
}

/**
 * Temporary shadows left by runs that were killed are dropped: older than a few minutes, and their
 * named lock (taken by the shadow's session while it is in use, released by the server when that
 * session ends) free. Best effort.
 */
async function dropStaleMysqlShadows(live: DataSource): Promise<void> {
  try {
    const rows = (await live.query(
      `SELECT SCHEMA_NAME AS name, IS_FREE_LOCK(SCHEMA_NAME) AS free FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?`,
      [`${TEMPORARY_PREFIX.replaceAll('_', '\\_')}%`],
    )) as Array<{ name: string; free: number | string | null }>;
    for (const { name, free } of rows) {
      const created = Number.parseInt(name.slice(TEMPORARY_PREFIX.length).split('_')[0] ?? '', 36);
      if (Number(free) !== 1 || !Number.isFinite(created) || Date.now() - created < STALE_AFTER_MS) continue;
      await live.query(`DROP DATABASE IF EXISTS \`${name.replaceAll('`', '``')}\``);
    }
  } catch {
    // Best effort: a stale shadow left is only space.
  }
}

/** The empty database at `url`: of the live server's version, and on another server unless allowed; emptied at the end. */
async function openGivenMysql(
  live: DataSource,
  url: string,
  facts: MysqlFacts,
  context: ShadowContext,
  onLiveServer: boolean,
  replay: boolean,
): Promise<ShadowDatabase> {
  const target = shadowTarget(live, url, context);
  const connected = await connect(live, { url }, context);
  try {
    const shadow = await readFacts(connected.queryRunner);
    const onTheLiveServer = await sameServer(live, connected.queryRunner);
    const refuse = (why: string) =>
      new AutoMigratorConfigError(
        `${context.label}: ${replay ? 'the history cannot be replayed' : 'the pending migrations cannot run'} in ${target}: ${why}.`,
      );
    if (onTheLiveServer && shadow.database === facts.database) throw refuse('it is the live database itself; give an empty database');
    const [{ tables } = { tables: 1 }] = (await connected.queryRunner.query(
      'SELECT COUNT(*) AS tables FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()',
    )) as Array<{ tables: number }>;
    if (Number(tables) > 0)
      throw refuse(
        replay
          ? 'it is not empty (a replay builds the schema from nothing; give an empty database)'
          : 'it is not empty (it is filled with the live schema, and emptied after; give an empty database)',
      );
    if (shadow.version !== facts.version)
      throw refuse(`it runs ${shadow.version} and the live database ${facts.version}; their catalogs are not compared across versions`);
    if (shadow.charset !== facts.charset || shadow.collation !== facts.collation) {
      // Its tables would take other defaults than the live ones: given the live database's, as a temporary one is.
      await connected.queryRunner.query(
        `ALTER DATABASE ${identifier(shadow.database)} CHARACTER SET ${identifier(facts.charset)} COLLATE ${identifier(facts.collation)}`,
      );
    }
    if (onTheLiveServer && !onLiveServer)
      throw refuse('it is on the live server, where replaying runs every applied migration again (allow it with --replay-on-live-server)');
    if (!replay) sayCopied(await fill(live, connected.queryRunner), context);
    context.logger.log(
      `${context.label}: ${replay ? 'the applied migrations are replayed' : 'the pending migrations run'} in the shadow database ${target}`,
    );
    const cleanUp = async () => {
      await emptyMysqlDatabase(connected.queryRunner, shadow.database).catch(() => undefined);
      await disconnect(connected);
    };
    return new ShadowDatabase(
      connected.dataSource,
      connected.queryRunner,
      undefined,
      `shadow database ${target}`,
      true,
      cleanUp,
      onTheLiveServer,
    );
  } catch (error) {
    await disconnect(connected);
    throw error;
  }
}

/** The live schema copied into the shadow, read on a session of the live DataSource's own. */
async function fill(live: DataSource, shadow: QueryRunner): Promise<MysqlSchemaCopy> {
  const runner = live.createQueryRunner();
  try {
    return await copyMysqlSchema(runner, shadow, await mysqlServerWideCheck(shadow));
  } finally {
    await runner.release();
  }
}

/** What the copy left out, as a warning: the pending migrations may then fail, or differ, where they touch it. */
function sayCopied(copy: MysqlSchemaCopy, context: ShadowContext): void {
  if (copy.skipped.length === 0) return;
  context.logger.warn(`${context.label}: the shadow's copy of the live schema left out ${copy.skipped.length}: ${copy.skipped.join('; ')}`);
}

/** Drops every table, view, routine and event of the shadow's own database (named: not whatever the session now uses), leaving it as empty as it was given. */
async function emptyMysqlDatabase(runner: QueryRunner, database: string): Promise<void> {
  const objects = (await runner.query(
    `SELECT IF(TABLE_TYPE = 'VIEW', 'VIEW', 'TABLE') AS kind, TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?
     UNION ALL SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?
     UNION ALL SELECT 'EVENT', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?`,
    [database, database, database],
  )) as Array<{ kind: string; name: string }>;
  await runner.query('SET FOREIGN_KEY_CHECKS = 0');
  for (const { kind, name } of objects) await runner.query(`DROP ${kind} IF EXISTS ${identifier(database)}.${identifier(name)}`);
  await runner.query('SET FOREIGN_KEY_CHECKS = 1');
}
