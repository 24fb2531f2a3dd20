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
};

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
    const object = body?.['objtype'] ?? body?.['objectType'] ?? body?.['renameType'];
    if (typeof object === 'string' && SHARED_OBJECTS.has(object)) {
      return `${VERBS[type] ?? type} on a ${object === 'OBJECT_PARAMETER_ACL' ? 'server parameter' : object.slice('OBJECT_'.length).toLowerCase()}`;
    }
  }
  return undefined;
}
