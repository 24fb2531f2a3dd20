import type { QueryRunner } from 'typeorm';
import { PreviewStoppedError } from '../../errors/preview-stopped.error.js';

/** What the copy of a MySQL/MariaDB schema did: how many objects of each kind, and what it left out. */
export interface MysqlSchemaCopy {
  readonly tables: number;
  readonly views: number;
  readonly triggers: number;
  readonly routines: number;
  /** Objects it could not create in the shadow (a view over what it cannot see, say), with the server's reason. */
  readonly skipped: readonly string[];
}

/** A MySQL identifier, quoted. */
export function identifier(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

/**
 * The `DEFINER=…` clause MySQL writes into views, triggers and routines: the shadow's objects are
 * created as the shadow's user, who may not be allowed to name another.
 */
const DEFINER = /\s+DEFINER\s*=\s*(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|[^\s@]+)@(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|\S+)/i;

/**
 * Copies the schema of the database `live` is connected to into the (empty) one `shadow` is
 * connected to, as the server itself prints each object (`SHOW CREATE …`): every base table with
 * its indexes, foreign keys, checks and options (AUTO_INCREMENT counters dropped), then views (in
 * an order their dependencies allow), triggers and routines, each without its DEFINER and without
 * the live database's name where the server wrote it in. Reads only on `live`; foreign key checks
 * are off on `shadow` while the tables are created, in any order. No rows are copied.
 */
export async function copyMysqlSchema(
  live: QueryRunner,
  shadow: QueryRunner,
  /** What in an object's SQL would act outside the shadow (see mysqlServerWideStatement): such an object is left out. */
  reachesOut: (sql: string) => Promise<string | undefined> = () => Promise.resolve(undefined),
): Promise<MysqlSchemaCopy> {
  const [{ database } = { database: '' }] = (await live.query('SELECT DATABASE() AS `database`')) as Array<{ database: string }>;
  const unqualify = (sql: string) => sql.replaceAll(`${identifier(database)}.`, '');
  const objects = (await live.query(
    `SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME`,
  )) as Array<{ name: string; type: string }>;
  const skipped: string[] = [];
  // A view, trigger or routine whose SQL names another database (the live one, written without
  // quotes) would reach it from the shadow when it fires: it is left out, and said.
  const vetted = async (sql: string): Promise<string> => {
    const reach = await reachesOut(sql);
    if (reach !== undefined)
      throw new PreviewStoppedError(`it ${reach.startsWith('a name') ? `has ${reach}` : `sends ${reach}`}, outside the shadow`);
    return sql;
  };
  await shadow.query('SET FOREIGN_KEY_CHECKS = 0');
  let tables = 0;
  try {
    for (const { name } of objects.filter((object) => object.type === 'BASE TABLE')) {
      const [row] = (await live.query(`SHOW CREATE TABLE ${identifier(name)}`)) as Array<Record<string, string>>;
      const create = row?.['Create Table'];
      if (!create) continue;
      await shadow.query(unqualify(create).replace(/\s+AUTO_INCREMENT=\d+/i, ''));
      tables += 1;
    }
  } finally {
    await shadow.query('SET FOREIGN_KEY_CHECKS = 1');
  }
  // Views over views: each round creates what it can, until a round creates nothing more.
  let views = objects.filter((object) => object.type === 'VIEW').map((object) => object.name);
  let created = 0;
  const failures = new Map<string, string>();
  while (views.length > 0) {
    const left: string[] = [];
    for (const name of views) {
      const [row] = (await live.query(`SHOW CREATE VIEW ${identifier(name)}`)) as Array<Record<string, string>>;
      try {
        await shadow.query(await vetted(unqualify(row?.['Create View'] ?? '').replace(DEFINER, '')));
        created += 1;
      } catch (error) {
        failures.set(name, error instanceof Error ? error.message : String(error));
        left.push(name);
      }
    }
    if (left.length === views.length) break;
    views = left;
  }
  // What is left could not be created in any round.
  for (const name of views) skipped.push(`view ${name}: ${failures.get(name) ?? 'not created'}`);
  const triggers = (await live.query(
    'SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY ACTION_ORDER',
  )) as Array<{ name: string }>;
  let triggerCount = 0;
  for (const { name } of triggers) {
    const [row] = (await live.query(`SHOW CREATE TRIGGER ${identifier(name)}`)) as Array<Record<string, string>>;
    try {
      await shadow.query(await vetted(unqualify(row?.['SQL Original Statement'] ?? '').replace(DEFINER, '')));
      triggerCount += 1;
    } catch (error) {
      skipped.push(`trigger ${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const routines = (await live.query(
    'SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()',
  )) as Array<{ name: string; type: string }>;
  let routineCount = 0;
  for (const { name, type } of routines) {
    const [row] = (await live.query(`SHOW CREATE ${type} ${identifier(name)}`)) as Array<Record<string, string>>;
    const create = row?.[type === 'FUNCTION' ? 'Create Function' : 'Create Procedure'];
    if (!create) {
      skipped.push(
        `${type.toLowerCase()} ${name}: the server did not show its definition (the SHOW ROUTINE privilege, or being its definer, is needed)`,
      );
      continue;
    }
    try {
      await shadow.query(await vetted(unqualify(create).replace(DEFINER, '')));
      routineCount += 1;
    } catch (error) {
      skipped.push(`${type.toLowerCase()} ${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { tables, views: created, triggers: triggerCount, routines: routineCount, skipped };
}
