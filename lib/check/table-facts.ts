import type { DataSource } from 'typeorm';
import { databaseErrorCode } from '../util/error-chain.js';
import { quoteIdentifier } from '../util/sql-identifier.js';
import { readInvalidIndexes, type InvalidIndex } from '../history/invalid-indexes.js';
import type { TableName, TypeSpec } from './sql/statement-actions.js';

/** What the catalog says of a table a pending migration touches, before it runs. */
export interface TableFacts {
  /** The table as the catalog names it (schema-qualified, quoted where SQL needs it). */
  readonly qualified: string;
  readonly schema: string;
  readonly name: string;
  /**
   * The planner's row estimate: `reltuples`, or, for a table never analyzed or vacuumed (reltuples
   * -1), what the planner estimates from its pages on disk (`rowsFromPages`); undefined when even
   * that could not be read.
   */
  readonly rows: number | undefined;
  /** The table was never analyzed: `rows` is the planner's estimate from its size on disk. */
  readonly rowsFromPages?: true;
  /** Its heap on disk (pg_relation_size): known even where it was never analyzed; while another session locks it, as the catalog last recorded it (relpages). */
  readonly bytes: number;
  /** Columns with a validated `CHECK (column IS NOT NULL)`, as the catalog prints each check (parsed by the caller). */
  readonly checks: readonly string[];
  /** Each column's type as the catalog formats it, with its type oid and modifier. */
  readonly columns: ReadonlyMap<string, { readonly typeOid: number; readonly typmod: number }>;
  /** MySQL/MariaDB: what on the table online schema change tools refuse or must handle (gh-ost: foreign keys, triggers). */
  readonly mysqlOnlineToolLimits?: readonly string[];
}

/** The live database's answer for the tables and functions a check needs (see readTableFacts). */
export interface CatalogFacts {
  /** By the key {@link tableKey} gives; absent: no such table now (created by the pending migrations). */
  readonly tables: ReadonlyMap<string, TableFacts>;
  /** Functions any of whose overloads is volatile. */
  readonly volatileFunctions: ReadonlySet<string>;
  /** Target types resolved to their oids, by the text given (e.g. `pg_catalog.int8`). */
  readonly types: ReadonlyMap<string, number>;
  /** Casts that need no conversion of the stored value (source oid → target oids). */
  readonly binaryCoercible: ReadonlySet<string>;
  /** The database's INVALID indexes, by `schema|name` (see readInvalidIndexes). */
  readonly invalidIndexes: ReadonlyMap<string, InvalidIndex>;
}

/** How a statement's table name is looked up: quoted as written, resolved by the session's search_path. */
export function tableKey(table: TableName): string {
  return table.schema === undefined ? quoteIdentifier(table.name) : `${quoteIdentifier(table.schema)}.${quoteIdentifier(table.name)}`;
}

/**
 * Reads, in three statements, what the lock rules need: each table's size, its validated CHECK
 * constraints and column types; the volatility of the functions defaults call; the target types of
 * column type changes and whether the cast to them is binary coercible. Reads only the catalog.
 */
export async function readCatalogFacts(
  dataSource: DataSource,
  tables: readonly TableName[],
  functions: readonly string[],
  types: readonly string[],
  /** Index names the statements give: those INVALID now are read (none asked: nothing read). */
  indexes: readonly string[] = [],
  /** Where an unqualified name is looked up (a tenant's schema); default: the session's search_path. */
  defaultSchema?: string,
): Promise<CatalogFacts> {
  const keys = [...new Set(tables.map(tableKey))];
  const rows = (await withoutWaitingForLocks(dataSource, (catalogOnly) => [
    `SELECT t.key, format('%I.%I', n.nspname, c.relname) AS qualified, n.nspname AS schema, c.relname AS name,
       -- A partitioned table has no storage of its own: its partitions' rows and sizes are what a statement on it meets.
       CASE WHEN c.relkind = 'p' THEN coalesce((SELECT sum(r.reltuples) FILTER (WHERE r.reltuples >= 0) FROM pg_partition_tree(c.oid) AS p
         JOIN pg_class r ON r.oid = p.relid WHERE p.isleaf), -1) ELSE c.reltuples END::float8 AS reltuples,
       CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(${heapBytes('p.relid', catalogOnly)}), 0) FROM pg_partition_tree(c.oid) AS p)
         ELSE ${heapBytes('c.oid', catalogOnly)} END::float8 AS bytes,
       (SELECT coalesce(json_agg(pg_get_constraintdef(k.oid)), '[]') FROM pg_constraint k
         WHERE k.conrelid = c.oid AND k.contype = 'c' AND k.convalidated) AS checks,
       (SELECT coalesce(json_agg(json_build_array(a.attname, a.atttypid::int, a.atttypmod)), '[]') FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
     FROM unnest($1::text[]) AS t(key)
       JOIN pg_class c ON c.oid = to_regclass(CASE WHEN $2::text IS NULL OR position('"."' IN t.key) > 0 THEN t.key ELSE quote_ident($2) || '.' || t.key END)
         AND c.relkind IN ('r', 'p')
       JOIN pg_namespace n ON n.oid = c.relnamespace`,
    [keys, defaultSchema ?? null],
  ])) as Array<{
    key: string;
    qualified: string;
    schema: string;
    name: string;
    reltuples: number;
    bytes: number;
    checks: string[];
    columns: Array<[string, number, number]>;
  }>;
  const volatile = (await dataSource.query(`SELECT DISTINCT proname FROM pg_proc WHERE proname = ANY($1::text[]) AND provolatile = 'v'`, [
    [...new Set(functions)],
  ])) as Array<{ proname: string }>;
  const resolved = (await dataSource.query(
    `SELECT t.name, to_regtype(t.name)::oid::int AS oid,
       (SELECT coalesce(json_agg(c.castsource::int), '[]') FROM pg_cast c WHERE c.casttarget = to_regtype(t.name) AND c.castmethod = 'b') AS coercible_from
     FROM unnest($1::text[]) AS t(name)`,
    [[...new Set(types)]],
  )) as Array<{ name: string; oid: number | null; coercible_from: number[] }>;
  const invalid = indexes.length === 0 ? [] : await invalidIndexesNamed(dataSource, new Set(indexes));
  const fromPages = await estimateFromPages(
    dataSource,
    rows.filter((row) => row.reltuples < 0 && row.bytes > 0).map((row) => row.qualified),
  );
  return {
    tables: new Map(
      rows.map((row) => [
        row.key,
        {
          qualified: row.qualified,
          schema: row.schema,
          name: row.name,
          rows: row.reltuples < 0 ? fromPages.get(row.qualified) : row.reltuples,
          ...(row.reltuples < 0 && fromPages.has(row.qualified) ? { rowsFromPages: true as const } : {}),
          bytes: row.bytes,
          checks: row.checks,
          columns: new Map(row.columns.map(([name, typeOid, typmod]) => [name, { typeOid, typmod }])),
        },
      ]),
    ),
    volatileFunctions: new Set(volatile.map((row) => row.proname)),
    types: new Map(resolved.flatMap((row) => (row.oid === null ? [] : [[row.name, row.oid] as const]))),
    binaryCoercible: new Set(
      resolved.flatMap((row) => (row.oid === null ? [] : row.coercible_from.map((source) => `${source}->${row.oid}`))),
    ),
    invalidIndexes: new Map(invalid.map((index) => [`${index.schema}|${index.name}`, index])),
  };
}

/** The INVALID indexes among those named (by name, in any schema: the rule matches the schema). */
async function invalidIndexesNamed(dataSource: DataSource, names: ReadonlySet<string>): Promise<InvalidIndex[]> {
  const session = dataSource.createQueryRunner();
  try {
    return (await readInvalidIndexes(session)).filter((index) => names.has(index.name));
  } finally {
    await session.release();
  }
}

/**
 * How long a check's read of a live table may wait for its ACCESS SHARE lock, in ms, where another
 * session holds or has queued a stronger one (a migration running there): the read is then given
 * up for what the catalog says, or, for the shadow's schema copy, for the catalog copy.
 */
export const LIVE_LOCK_WAIT_MS = 2_000;

/**
 * The planner's row estimate of each never-analyzed table (`EXPLAIN SELECT 1 FROM t`: from its pages
 * on disk and its row width), read without ANALYZE, which would change the live statistics. EXPLAIN
 * takes ACCESS SHARE on the table, given up after a moment when someone holds a stronger lock: that
 * table then has no estimate.
 */
async function estimateFromPages(dataSource: DataSource, tables: readonly string[]): Promise<Map<string, number>> {
  const estimates = new Map<string, number>();
  if (tables.length === 0) return estimates;
  // One transaction, a savepoint per table: the lock timeout holds for it alone (behind a
  // transaction-mode pooler too), and a table that cannot be read does not stop the others.
  const session = dataSource.createQueryRunner('master');
  try {
    await session.startTransaction();
    await session.query(`SELECT set_config('lock_timeout', $1, true)`, [String(LIVE_LOCK_WAIT_MS)]);
    for (const table of tables) {
      await session.query('SAVEPOINT estimate');
      try {
        const [row] = (await session.query(`EXPLAIN (FORMAT JSON) SELECT 1 FROM ${table}`)) as Array<{ 'QUERY PLAN': unknown }>;
        const plan = (Array.isArray(row?.['QUERY PLAN']) ? row['QUERY PLAN'] : JSON.parse(String(row?.['QUERY PLAN'])))[0] as {
          Plan?: { 'Plan Rows'?: number };
        };
        const estimate = plan.Plan?.['Plan Rows'];
        if (typeof estimate === 'number') estimates.set(table, estimate);
        await session.query('RELEASE SAVEPOINT estimate');
      } catch {
        // No estimate for it: it is graded by its size on disk.
        await session.query('ROLLBACK TO SAVEPOINT estimate');
      }
    }
  } finally {
    if (session.isTransactionActive) await session.rollbackTransaction().catch(() => undefined);
    await session.release();
  }
  return estimates;
}

/**
 * Whether changing `column` to `type` rewrites (or re-checks) every row: not for a binary-coercible
 * cast to a type without a length limit (varchar to text), nor for widening a varchar or varbit, as
 * the catalog's pg_cast and the column's modifier say. Such a change also keeps every stored value
 * as it was, for a release that still reads and writes the column.
 */
export function rewritesForType(column: string, type: TypeSpec, table: TableFacts, facts: CatalogFacts): boolean {
  const current = table.columns.get(column);
  const target = facts.types.get(typeText(type));
  if (!current || target === undefined || type.converted) return true;
  const limit = type.modifiers[0];
  if (current.typeOid === target) {
    // varchar(n) / varbit(n): the catalog's modifier is n (+ 4 for varchar); a wider or no limit keeps every stored value.
    const header = VARIABLE_LENGTH_HEADER[type.names.at(-1) ?? ''];
    if (header === undefined) return true;
    return !(limit === undefined || (current.typmod >= 0 && limit + header >= current.typmod));
  }
  // A limit on the new type (text to varchar(50)) is checked against every row.
  return limit !== undefined || !facts.binaryCoercible.has(`${current.typeOid}->${target}`);
}

/** Types whose length limit can grow without a rewrite, and what the catalog adds to the limit in `atttypmod`. */
const VARIABLE_LENGTH_HEADER: Partial<Record<string, number>> = { varchar: 4, varbit: 0 };

/** A type as `to_regtype` reads it: its qualified name, and `[]` for an array. */
export function typeText(type: TypeSpec): string {
  return type.names.map(quoteIdentifier).join('.') + (type.array ? '[]' : '');
}

/**
 * MySQL/MariaDB: the live tables named (in the DataSource's database), as the lock rules need them:
 * `information_schema.TABLES`' row estimate and clustered index size, and, for the advice, whether
 * foreign keys or triggers are on them. One statement; reads only the catalog.
 */
export async function readMysqlTableFacts(dataSource: DataSource, tables: readonly string[]): Promise<CatalogFacts> {
  const names = [...new Set(tables)];
  const rows =
    names.length === 0
      ? []
      : ((await dataSource.query(
          `SELECT t.TABLE_SCHEMA AS db, t.TABLE_NAME AS name, t.TABLE_ROWS AS estimate, t.DATA_LENGTH AS bytes,
             (SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS r
               WHERE r.CONSTRAINT_SCHEMA = t.TABLE_SCHEMA AND (r.TABLE_NAME = t.TABLE_NAME OR r.REFERENCED_TABLE_NAME = t.TABLE_NAME)) AS foreign_keys,
             (SELECT COUNT(*) FROM information_schema.TRIGGERS g
               WHERE g.EVENT_OBJECT_SCHEMA = t.TABLE_SCHEMA AND g.EVENT_OBJECT_TABLE = t.TABLE_NAME) AS triggers,
             (SELECT JSON_ARRAYAGG(c.COLUMN_NAME) FROM information_schema.COLUMNS c
               WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME) AS column_names
           FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' AND t.TABLE_NAME IN (?)`,
          [names],
        )) as Array<{
          db: string;
          name: string;
          estimate: number | string | null;
          bytes: number | string | null;
          foreign_keys: number | string;
          triggers: number | string;
          column_names: string | string[] | null;
        }>);
  return {
    tables: new Map(
      rows.map((row) => [
        tableKey({ name: row.name }),
        {
          qualified: `${row.db}.${row.name}`,
          schema: row.db,
          name: row.name,
          rows: row.estimate === null ? undefined : Number(row.estimate),
          bytes: Number(row.bytes ?? 0),
          checks: [],
          // Only the names are read (the rules that compare types read them from the shadow): a column's type here is not known.
          columns: new Map(columnNames(row.column_names).map((name) => [name, { typeOid: 0, typmod: -1 }])),
          ...(Number(row.foreign_keys) > 0 || Number(row.triggers) > 0
            ? {
                mysqlOnlineToolLimits: [
                  ...(Number(row.foreign_keys) > 0 ? ['foreign keys'] : []),
                  ...(Number(row.triggers) > 0 ? ['triggers'] : []),
                ],
              }
            : {}),
        },
      ]),
    ),
    volatileFunctions: new Set(),
    types: new Map(),
    binaryCoercible: new Set(),
    invalidIndexes: new Map(),
  };
}

/** A JSON array of names as MySQL (a string) or MariaDB (a string, or parsed by the driver) returns it. */
function columnNames(value: string | string[] | null): string[] {
  if (value === null) return [];
  return Array.isArray(value) ? value : (JSON.parse(value) as string[]);
}

/**
 * Of the schemas named (tenants), the one whose tables and indexes are biggest on disk, read from
 * the catalog in one statement: the tenant whose tables grade a tenant migration's lock hazards.
 * Undefined when none of them exists yet.
 */
export async function largestSchema(dataSource: DataSource, schemas: readonly string[]): Promise<string | undefined> {
  const [row] = (await withoutWaitingForLocks(dataSource, (catalogOnly) => [
    // Sizes from the catalog: its tables', materialized views' and indexes' pages (their TOAST is not counted).
    catalogOnly
      ? `SELECT n.nspname AS schema FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'm', 'i')
         WHERE n.nspname = ANY($1::text[]) GROUP BY n.nspname ORDER BY coalesce(sum(c.relpages::float8), 0) DESC, n.nspname LIMIT 1`
      : `SELECT n.nspname AS schema FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'm')
         WHERE n.nspname = ANY($1::text[]) GROUP BY n.nspname ORDER BY coalesce(sum(pg_total_relation_size(c.oid)), 0) DESC, n.nspname LIMIT 1`,
    [[...schemas]],
  ])) as Array<{ schema: string }>;
  return row?.schema;
}

/** A relation's heap bytes: on disk (pg_relation_size, which locks it), or as the catalog last recorded them (relpages, no lock). */
function heapBytes(relation: string, catalogOnly: boolean): string {
  return catalogOnly
    ? `(SELECT r.relpages::float8 * current_setting('block_size')::float8 FROM pg_class r WHERE r.oid = ${relation})`
    : `pg_relation_size(${relation})`;
}

/**
 * Runs a statement that reads live tables' sizes on disk without waiting on them. Those functions
 * (pg_relation_size, pg_total_relation_size) take ACCESS SHARE on each table, which waits behind a
 * stronger lock held or queued there (a migration's ACCESS EXCLUSIVE): the statement runs in a
 * transaction whose lock_timeout gives up after a moment, and is then sent as `statement(true)`,
 * which reads the sizes the catalog recorded at the last VACUUM or ANALYZE and takes no table lock.
 */
async function withoutWaitingForLocks(
  dataSource: DataSource,
  statement: (catalogOnly: boolean) => [sql: string, parameters: unknown[]],
): Promise<unknown[]> {
  try {
    return await dataSource.transaction(async (manager) => {
      await manager.query(`SELECT set_config('lock_timeout', $1, true)`, [String(LIVE_LOCK_WAIT_MS)]);
      return (await manager.query(...statement(false))) as unknown[];
    });
  } catch (error) {
    if (databaseErrorCode(error) !== '55P03') throw error;
    return (await dataSource.query(...statement(true))) as unknown[];
  }
}
