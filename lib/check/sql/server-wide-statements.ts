import { withoutMysqlComments } from './mysql-ddl.js';
import type { QueryRunner } from 'typeorm';
import { parseStatements } from './parse-sql.js';

/** Statements that act on what every database of the server shares: roles, databases, tablespaces, the server's settings. */
const SERVER_WIDE: Readonly<Record<string, string>> = {
  CreateRoleStmt: 'CREATE ROLE',
  AlterRoleStmt: 'ALTER ROLE',
  AlterRoleSetStmt: 'ALTER ROLE … SET',
  DropRoleStmt: 'DROP ROLE',
  GrantRoleStmt: 'GRANT / REVOKE of a role',
  ReassignOwnedStmt: 'REASSIGN OWNED',
  CreatedbStmt: 'CREATE DATABASE',
  DropdbStmt: 'DROP DATABASE',
  AlterDatabaseStmt: 'ALTER DATABASE',
  AlterDatabaseSetStmt: 'ALTER DATABASE … SET',
  AlterDatabaseRefreshCollStmt: 'ALTER DATABASE … REFRESH COLLATION VERSION',
  AlterSystemStmt: 'ALTER SYSTEM',
  CreateTableSpaceStmt: 'CREATE TABLESPACE',
  DropTableSpaceStmt: 'DROP TABLESPACE',
  AlterTableSpaceOptionsStmt: 'ALTER TABLESPACE',
  CreateSubscriptionStmt: 'CREATE SUBSCRIPTION',
  AlterSubscriptionStmt: 'ALTER SUBSCRIPTION',
  DropSubscriptionStmt: 'DROP SUBSCRIPTION',
  CheckPointStmt: 'CHECKPOINT',
  // A foreign server reaches any database over the network, the live one included.
  CreateForeignServerStmt: 'CREATE SERVER',
  AlterForeignServerStmt: 'ALTER SERVER',
  CreateUserMappingStmt: 'CREATE USER MAPPING',
  ImportForeignSchemaStmt: 'IMPORT FOREIGN SCHEMA',
};

/** Functions that act on the server, its files, other sessions or other databases (over the network). */
const SERVER_WIDE_FUNCTIONS = new Set([
  'dblink',
  'dblink_exec',
  'dblink_connect',
  'dblink_connect_u',
  'dblink_open',
  'dblink_send_query',
  'pg_terminate_backend',
  'pg_cancel_backend',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_promote',
  'pg_switch_wal',
  'pg_read_file',
  'pg_read_binary_file',
  'pg_ls_dir',
  'pg_stat_file',
  'pg_file_write',
  'lo_import',
  'lo_export',
]);

/** The first function `node` (a parse tree) calls that is in SERVER_WIDE_FUNCTIONS, if any. */
function serverWideCall(node: unknown): string | undefined {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = serverWideCall(item);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof node !== 'object' || node === null) return undefined;
  const call = (node as { FuncCall?: { funcname?: Array<{ String?: { sval?: string; str?: string } }> } }).FuncCall;
  const name = call?.funcname?.at(-1)?.String;
  const called = (name?.sval ?? name?.str)?.toLowerCase();
  if (called && SERVER_WIDE_FUNCTIONS.has(called)) return called;
  for (const value of Object.values(node)) {
    const found = serverWideCall(value);
    if (found) return found;
  }
  return undefined;
}

/** Object types that live in the server's shared catalogs, for statements that name one (COMMENT ON DATABASE, GRANT … ON TABLESPACE…). */
const SHARED_OBJECTS = new Set(['OBJECT_DATABASE', 'OBJECT_ROLE', 'OBJECT_TABLESPACE', 'OBJECT_PARAMETER_ACL']);

const VERBS: Readonly<Record<string, string>> = {
  CommentStmt: 'COMMENT',
  GrantStmt: 'GRANT / REVOKE',
  SecLabelStmt: 'SECURITY LABEL',
  AlterOwnerStmt: 'ALTER … OWNER',
  RenameStmt: 'RENAME',
};

/**
 * What in `sql` would act on the whole server, or cannot be read well enough to know it does not,
 * as a phrase ("CREATE ROLE", "a DO block…"); undefined when every statement stays inside its
 * database. For statements committed in a shadow on the live server, which shares its roles,
 * databases, tablespaces and settings with the live database. A function the SQL calls is not
 * looked into.
 */
export async function serverWideStatement(sql: string): Promise<string | undefined> {
  let statements;
  try {
    statements = await parseStatements(sql);
  } catch {
    return "a statement PostgreSQL's parser cannot read, so nothing says it stays inside its database";
  }
  for (const raw of statements) {
    const [type, body] = Object.entries((raw.stmt ?? {}) as Record<string, Record<string, unknown> | undefined>)[0] ?? [];
    if (type === undefined) continue;
    if (SERVER_WIDE[type]) return SERVER_WIDE[type];
    if (type === 'DoStmt') return 'a DO block, whose statements cannot be read before they run';
    if (type === 'CopyStmt' && (body?.['filename'] !== undefined || body?.['is_program'] === true))
      return "COPY to or from a file or program on the server's machine";
    const call = serverWideCall(body);
    if (call) return `a call of ${call}()`;
    const object = body?.['objtype'] ?? body?.['objectType'] ?? body?.['renameType'];
    if (typeof object === 'string' && SHARED_OBJECTS.has(object)) {
      return `${VERBS[type] ?? type} on a ${object === 'OBJECT_PARAMETER_ACL' ? 'server parameter' : object.slice('OBJECT_'.length).toLowerCase()}`;
    }
  }
  return undefined;
}

/** MySQL/MariaDB statements that act outside their database, by their first words (no parser of MySQL's SQL is at hand). */
const MYSQL_SERVER_WIDE_START = new RegExp(
  '^(?:' +
    [
      'CREATE\\s+(?:OR\\s+REPLACE\\s+)?(?:USER|ROLE|DATABASE|SCHEMA|SERVER|TABLESPACE|LOGFILE\\s+GROUP|RESOURCE\\s+GROUP)\\b',
      '(?:DROP|ALTER|RENAME)\\s+(?:USER|ROLE|DATABASE|SCHEMA|SERVER|TABLESPACE|LOGFILE\\s+GROUP|RESOURCE\\s+GROUP|INSTANCE)\\b',
      // USE moves the session to another database; PREPARE / EXECUTE run SQL nobody can read beforehand.
      '(?:GRANT|REVOKE|USE|PREPARE|EXECUTE|DEALLOCATE|FLUSH|SHUTDOWN|RESTART|INSTALL|UNINSTALL|KILL|PURGE|RESET|BINLOG|HANDLER)\\b',
      'CHANGE\\s+(?:MASTER|REPLICATION)\\b',
      '(?:START|STOP)\\s+(?:SLAVE|REPLICA|GROUP_REPLICATION)\\b',
      'LOAD\\s+(?:DATA|XML|INDEX)\\b',
      'CACHE\\s+INDEX\\b',
    ].join('|') +
    ')',
  'i',
);
/** …and anywhere in one: the server's settings, files and plugins. */
const MYSQL_SERVER_WIDE_ANYWHERE =
  /\bSET\b[^;]*?\b(?:GLOBAL|PERSIST|PERSIST_ONLY)\b|@@(?:GLOBAL|PERSIST)\b|\bINTO\s+(?:OUTFILE|DUMPFILE)\b|\bSONAME\b|\bLOAD_FILE\s*\(|\bSET\s+PASSWORD\b|\bSET\s+DEFAULT\s+ROLE\b/i;

/** MySQL's SQL as the server reads it (see withoutMysqlComments), split at the semicolons between statements. */
function mysqlStatements(sql: string): string[] {
  return withoutMysqlComments(sql)
    .split(';')
    .map((statement) => statement.trim());
}

/**
 * MySQL/MariaDB: what in `sql` would act outside the shadow's own database, as a phrase; undefined
 * when nothing does: the server's users, databases, settings, files and plugins; `USE`, after
 * which unqualified names are another database's; SQL built at run time (`PREPARE`); and a name
 * qualified by one of `otherDatabases` (the server's other databases, lower case, the live one
 * among them), which MySQL, unlike PostgreSQL, lets a statement reach (`live_db.users`). An alias
 * named as another database is refused too: better refused than sent.
 */
export function mysqlServerWideStatement(sql: string, otherDatabases: ReadonlySet<string>): string | undefined {
  for (const statement of mysqlStatements(sql)) {
    const found = MYSQL_SERVER_WIDE_START.exec(statement) ?? MYSQL_SERVER_WIDE_ANYWHERE.exec(statement);
    if (found) return found[0].trim().split(/\s+/).slice(0, 3).join(' ').toUpperCase();
    for (const [, quoted, bare] of statement.matchAll(
      /(?:`((?:[^`]|``)+)`|\b([A-Za-z0-9_$]*[A-Za-z_$][A-Za-z0-9_$]*))\s*\.\s*(?=`|[A-Za-z0-9_$])/g,
    )) {
      const database = quoted?.replaceAll('``', '`') ?? bare!;
      if (otherDatabases.has(database.toLowerCase())) return `a name in database "${database}"`;
    }
  }
  return undefined;
}

/**
 * MySQL/MariaDB: the check for statements sent on `runner`'s database (a shadow), with the server's
 * other databases read once: the catalog schemas, which TypeORM itself reads and nobody writes, aside.
 */
export async function mysqlServerWideCheck(runner: QueryRunner): Promise<(sql: string) => Promise<string | undefined>> {
  const rows = (await runner.query(
    'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME <> DATABASE()',
  )) as Array<{
    name: string;
  }>;
  const readOnly = new Set(['information_schema', 'performance_schema', 'sys']);
  const others = new Set(rows.map((row) => row.name.toLowerCase()).filter((name) => !readOnly.has(name)));
  return (sql) => Promise.resolve(mysqlServerWideStatement(sql, others));
}

/** SQLite: what in `sql` would reach another database file (ATTACH, VACUUM INTO), as a phrase; undefined when nothing does. */
export function sqliteServerWideStatement(sql: string): Promise<string | undefined> {
  const found = /^\s*(ATTACH|DETACH)\b|\bVACUUM\b[^;]*\bINTO\b/i.exec(sql);
  return Promise.resolve(found ? (found[1] ?? 'VACUUM INTO').toUpperCase() : undefined);
}
