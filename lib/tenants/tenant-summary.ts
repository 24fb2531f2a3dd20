import type { DataSource, EntityManager } from 'typeorm';
import { quoteIdentifier, quoteLiteral } from '../util/sql-identifier.js';

/**
 * The tenants' summary (PostgreSQL): one row per tenant migrations table, in the DataSource's own
 * schema, saying which migration names that table records: their count, and the sum of their
 * 64-bit hashes (`hashtextextended`), a fingerprint of the set that changes by what is added or
 * removed. Statement-level triggers on each tenant's migrations table keep its row exact: every
 * INSERT, UPDATE, DELETE or TRUNCATE, whoever sends it, adds its rows' difference in the same
 * transaction (concurrent writers' differences add up, under the row's lock). A restart then learns
 * which of thousands of tenants have nothing to do in one statement over the catalog and this
 * table, without opening any tenant's table.
 *
 * A row is trusted only while the catalog vouches for it: the table it describes is the one there
 * now (same oid: a dropped, recreated or restored table is not), and the four triggers are on that
 * table, enabled, conditioned and calling this summary's function. Anything else sends the tenant
 * to the reads that look at its table itself. PostgreSQL 11+ (hashtextextended); on older servers
 * the summary cannot be installed, and every restart reads the tenants' tables.
 *
 * The library's own migration session does not fire the triggers: PL/pgSQL compiles a trigger
 * function once per trigger and session and keeps its plans until the session ends, so a session
 * migrating thousands of tenants kept thousands of plans, and every catalog change (each migration's
 * CREATE TABLE) made every such session walk them all: deploys grew quadratically (measured: one
 * psql session adding a table to 3,000 tenants went from 7.5-15 s to 34-36 s with the triggers).
 * Instead, holding the tenant's lock, the session marks the tenant's row as describing no table
 * (`auto_migrator_tenant_writing`, in the statement that points it at the tenant) and sets
 * `auto_migrator.summary_writer` to the tenant's name, which each trigger's WHEN condition skips;
 * in the statement that unlocks, `auto_migrator_tenant_written` recounts the table under a SHARE
 * lock and restores the row. Should the process die in between, the row stays untrusted: the
 * tenant is read as without a summary, and summarised again.
 */
export const SUMMARY_TABLE = 'auto_migrator_tenants';
/** The triggers on each tenant's migrations table, one per kind of change (transition tables allow one event each). */
const TRIGGERS = {
  insert: 'auto_migrator_summary_insert',
  update: 'auto_migrator_summary_update',
  delete: 'auto_migrator_summary_delete',
  truncate: 'auto_migrator_summary_truncate',
} as const;
const CHANGED = 'auto_migrator_tenant_changed';
const WATCH = 'auto_migrator_tenant_watch';
const WRITING = 'auto_migrator_tenant_writing';
const WRITTEN = 'auto_migrator_tenant_written';
/** The setting naming the tenant whose migrations table the library's session is writing (see above). */
const WRITER_SETTING = 'auto_migrator.summary_writer';

/** The server's lock table size (slots), as SQL: each statement locks every table it reads until it ends. */
export const LOCK_SLOTS = `current_setting('max_locks_per_transaction')::int * (current_setting('max_connections')::int + current_setting('max_prepared_transactions')::int)`;

/** Where the summary lives: the DataSource's `schema` option, else its connections' current schema. */
export interface SummaryPlace {
  /** The DataSource's `schema` option (where TypeORM puts its migrations table), if set. */
  readonly schema: string | undefined;
}

/** What the summary says of one tenant, as the catalog vouches for it. */
export interface TenantSummaryRow {
  readonly schema: string;
  /** The tenant's migrations table exists. */
  readonly hasTable: boolean;
  /** The started-markers table beside it exists (a migration may be unfinished). */
  readonly hasMarkers: boolean;
  /** The summary row describes the table there now, and the triggers keep it current. */
  readonly summarized: boolean;
  /** The summarized names are exactly this build's. */
  readonly matches: boolean;
  /** The server's lock table size (see LOCK_SLOTS). */
  readonly slots: number;
}

function qualified(place: SummaryPlace, name: string): string {
  return place.schema === undefined ? quoteIdentifier(name) : `${quoteIdentifier(place.schema)}.${quoteIdentifier(name)}`;
}

/**
 * What the summary says of `tenants`, in one statement over the catalog and the summary table: no
 * tenant table is opened. Only the tenants with something to look at are returned (the others are
 * up to date); undefined when the summary table does not exist yet.
 *
 * Its two statements share one transaction (they only read), with JIT compilation off for it alone
 * (`set_config(…, true)`, sent with the first; servers before 11 have no JIT): the planner's
 * estimate for thousands of tenants (a trigger lookup per tenant) crosses `jit_above_cost`, and at
 * 10,000 tenants PostgreSQL 15 spent about 400 ms compiling a statement that runs in about 100 ms
 * (bench/README.md).
 */
export async function readTenantSummary(
  dataSource: DataSource,
  place: SummaryPlace,
  tenants: readonly string[],
  query: SummaryQuery,
): Promise<TenantSummary | undefined> {
  return dataSource.transaction((manager) => readInTransaction(manager, place, tenants, query));
}

/** What the summary is asked about the tenants: this build's tenant migrations and the tables' names. */
type SummaryQuery = { readonly known: readonly string[]; readonly table: string; readonly startedTable: string };

/** {@link readTenantSummary}'s two statements, in its transaction. */
async function readInTransaction(
  manager: EntityManager,
  place: SummaryPlace,
  tenants: readonly string[],
  query: SummaryQuery,
): Promise<TenantSummary | undefined> {
  const [found] = (await manager.query(
    `SELECT CASE WHEN current_setting('jit', true) IS NOT NULL THEN set_config('jit', 'off', true) END AS jit, n.nspname AS schema, to_regprocedure(format('%I.${WRITING}(text,text)', n.nspname)) IS NOT NULL ` +
      `AND to_regprocedure(format('%I.${WRITTEN}(text,text)', n.nspname)) IS NOT NULL AS writable ` +
      `FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)`,
    [qualified(place, SUMMARY_TABLE)],
  )) as Array<{ schema: string; writable: boolean }>;
  if (!found) return undefined;
  // The trigger lookup is one range of pg_trigger's (tgrelid, tgname) index per tenant (the four
  // names sort together), not one descent per name.
  const names = Object.values(TRIGGERS).sort();
  const rows = (await manager.query(
    `SELECT schema, "hasTable", "hasMarkers", summarized, matches, ${LOCK_SLOTS} AS slots FROM (` +
      `SELECT t.schema, c.oid IS NOT NULL AS "hasTable", m.oid IS NOT NULL AS "hasMarkers", ` +
      `coalesce(s.table_oid = c.oid AND (SELECT count(*) FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid ` +
      `AND g.tgname BETWEEN $7 AND $8 AND g.tgname = ANY($4::text[]) ` +
      `AND g.tgenabled IN ('O', 'A') AND g.tgqual IS NOT NULL AND g.tgfoid = (SELECT to_regprocedure($5))) = cardinality($4::text[]), false) AS summarized, ` +
      `coalesce(s.recorded = cardinality($6::text[]) AND s.names_hash = (SELECT coalesce(sum(hashtextextended(k, 0)), 0) FROM unnest($6::text[]) AS k), false) AS matches ` +
      `FROM unnest($1::text[]) AS t(schema) ` +
      `LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema ` +
      `LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = $2 AND c.relkind IN ('r', 'p') ` +
      `LEFT JOIN pg_catalog.pg_class m ON m.relnamespace = n.oid AND m.relname = $3 ` +
      `LEFT JOIN ${qualified(place, SUMMARY_TABLE)} s ON s.schema_name = t.schema AND s.table_name = $2` +
      `) AS tenant WHERE NOT (summarized AND matches AND NOT "hasMarkers")`,
    [tenants, query.table, query.startedTable, names, `${qualified(place, CHANGED)}()`, query.known, names[0], names[names.length - 1]],
  )) as TenantSummaryRow[];
  return { rows, writer: found.writable ? { schema: found.schema } : undefined };
}

/** What {@link readTenantSummary} found. */
export interface TenantSummary {
  /** The tenants with something to look at (the others are up to date). */
  readonly rows: TenantSummaryRow[];
  /** Where the summary's functions are (its schema, resolved), when the library's session can write tenants without firing the triggers. */
  readonly writer: SummaryWriter | undefined;
}

/** The schema holding the summary and its functions (see the module comment). */
export interface SummaryWriter {
  readonly schema: string;
}

/**
 * The SQL the library's session sends around its writes to one tenant's migrations table, holding
 * the tenant's lock (see the module comment): `writing`, a statement (literals only, no parameters)
 * to send with the one that points the session at the tenant; `written`, an expression to evaluate
 * in the statement that unlocks, before the unlock.
 */
export function summaryWriterSql(writer: SummaryWriter, tenant: string, table: string): { writing: string; written: string } {
  const args = `(${quoteLiteral(tenant)}, ${quoteLiteral(table)})`;
  const schema = quoteIdentifier(writer.schema);
  return { writing: `SELECT ${schema}.${WRITING}${args}`, written: `${schema}.${WRITTEN}${args}` };
}

/**
 * Creates the summary table and its functions where missing (one statement, serialised between
 * processes by a transaction-scoped advisory lock, so replicas doing it at once do not collide).
 */
export async function installSummary(dataSource: DataSource, place: SummaryPlace): Promise<void> {
  // The schema is resolved on the server when the DataSource does not name one: the functions
  // run with their own search_path, so every name inside them is qualified.
  const schema = place.schema === undefined ? 'current_schema()' : quoteLiteral(place.schema);
  // As text in the default collation: compared as `name` (the trigger variables' type, collation "C"), the
  // primary key could not be used, and every write scanned the whole summary (O(N) per write: quadratic deploys).
  const row = `WHERE schema_name = TG_TABLE_SCHEMA::text COLLATE "default" AND table_name = TG_TABLE_NAME::text COLLATE "default" AND table_oid = TG_RELID`;
  const hashOf = (rows: string) => `(SELECT coalesce(sum(hashtextextended(name, 0)), 0) FROM ${rows})`;
  const body = [
    `PERFORM pg_advisory_xact_lock(hashtext(${quoteLiteral(`nestjs-auto-migrator:${SUMMARY_TABLE}`)}))`,
    `EXECUTE format('CREATE TABLE IF NOT EXISTS %I.${SUMMARY_TABLE} (schema_name text NOT NULL, table_name text NOT NULL, ` +
      `table_oid oid NOT NULL, names_hash numeric NOT NULL, recorded integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), ` +
      `PRIMARY KEY (schema_name, table_name))', s)`,
    // Adds what one statement changed in a tenant's migrations table to its row (static SQL: planned
    // once per session). A row describing another table (an older oid) is left alone: it is not trusted.
    `EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I.${CHANGED}() RETURNS trigger LANGUAGE plpgsql ` +
      `SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $b$ BEGIN ` +
      `IF TG_OP = 'TRUNCATE' THEN UPDATE %1$I.${SUMMARY_TABLE} SET names_hash = 0, recorded = 0, updated_at = now() ${row}; ` +
      `ELSIF TG_OP = 'INSERT' THEN UPDATE %1$I.${SUMMARY_TABLE} SET names_hash = names_hash + ${hashOf('added')}, ` +
      `recorded = recorded + (SELECT count(*) FROM added), updated_at = now() ${row}; ` +
      `ELSIF TG_OP = 'DELETE' THEN UPDATE %1$I.${SUMMARY_TABLE} SET names_hash = names_hash - ${hashOf('removed')}, ` +
      `recorded = recorded - (SELECT count(*) FROM removed), updated_at = now() ${row}; ` +
      `ELSE UPDATE %1$I.${SUMMARY_TABLE} SET names_hash = names_hash + ${hashOf('added')} - ${hashOf('removed')}, updated_at = now() ${row}; ` +
      `END IF; RETURN NULL; END $b$$f$, s)`,
    // Puts the triggers on one tenant's table and summarises it, holding off its writers meanwhile;
    // false when the table is missing, or busy (another process migrating it, or summarising it).
    `EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I.${WATCH}(tenant text, tab text) RETURNS boolean LANGUAGE plpgsql AS $b$ ` +
      `DECLARE rel text := format('%%I.%%I', tenant, tab); ` +
      `unless text := format(' WHEN (pg_catalog.current_setting(%%L, true) IS DISTINCT FROM %%L) ', '${WRITER_SETTING}', tenant); BEGIN ` +
      `IF to_regclass(rel) IS NULL THEN RETURN false; END IF; ` +
      `PERFORM set_config('lock_timeout', '1000', true); ` +
      `BEGIN ` +
      `EXECUTE 'LOCK TABLE ' || rel || ' IN SHARE ROW EXCLUSIVE MODE'; ` +
      Object.values(TRIGGERS)
        .map((trigger) => `EXECUTE 'DROP TRIGGER IF EXISTS ${trigger} ON ' || rel; `)
        .join('') +
      `EXECUTE 'CREATE TRIGGER ${TRIGGERS.insert} AFTER INSERT ON ' || rel || ' REFERENCING NEW TABLE AS added FOR EACH STATEMENT' || unless || 'EXECUTE PROCEDURE %1$I.${CHANGED}()'; ` +
      `EXECUTE 'CREATE TRIGGER ${TRIGGERS.update} AFTER UPDATE ON ' || rel || ' REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT' || unless || 'EXECUTE PROCEDURE %1$I.${CHANGED}()'; ` +
      `EXECUTE 'CREATE TRIGGER ${TRIGGERS.delete} AFTER DELETE ON ' || rel || ' REFERENCING OLD TABLE AS removed FOR EACH STATEMENT' || unless || 'EXECUTE PROCEDURE %1$I.${CHANGED}()'; ` +
      `EXECUTE 'CREATE TRIGGER ${TRIGGERS.truncate} AFTER TRUNCATE ON ' || rel || ' FOR EACH STATEMENT' || unless || 'EXECUTE PROCEDURE %1$I.${CHANGED}()'; ` +
      `EXECUTE format('INSERT INTO %1$I.${SUMMARY_TABLE} (schema_name, table_name, table_oid, names_hash, recorded) ` +
      `SELECT $1, $2, $3, coalesce(sum(hashtextextended(name, 0)), 0), count(*) FROM %%s ON CONFLICT (schema_name, table_name) DO UPDATE ` +
      `SET table_oid = EXCLUDED.table_oid, names_hash = EXCLUDED.names_hash, recorded = EXCLUDED.recorded, updated_at = now()', rel) ` +
      `USING tenant, tab, to_regclass(rel)::oid; ` +
      `EXCEPTION WHEN lock_not_available OR deadlock_detected THEN RETURN false; END; ` +
      `RETURN true; END $b$$f$, s)`,
    // Before the library's session writes a tenant's migrations table (holding its lock): the row
    // describes no table until WRITTEN recounts it, and this session's writes skip the triggers.
    `EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I.${WRITING}(tenant text, tab text) RETURNS boolean LANGUAGE plpgsql AS $b$ BEGIN ` +
      `UPDATE %1$I.${SUMMARY_TABLE} SET table_oid = 0, updated_at = now() WHERE schema_name = tenant AND table_name = tab; ` +
      `PERFORM pg_catalog.set_config('${WRITER_SETTING}', tenant, false); RETURN true; END $b$$f$, s)`,
    // After it, still holding its lock: the triggers fire again for this session, and the row is
    // recounted from the table, under a SHARE lock (writers outside wait, and are counted by their
    // triggers after). False, the row left untrusted, when the table is missing or busy.
    `EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I.${WRITTEN}(tenant text, tab text) RETURNS boolean LANGUAGE plpgsql AS $b$ ` +
      `DECLARE rel text := format('%%I.%%I', tenant, tab); BEGIN ` +
      `PERFORM pg_catalog.set_config('${WRITER_SETTING}', '', false); ` +
      `IF to_regclass(rel) IS NULL THEN RETURN false; END IF; ` +
      `PERFORM set_config('lock_timeout', '1000', true); ` +
      `BEGIN ` +
      `EXECUTE 'LOCK TABLE ' || rel || ' IN SHARE MODE'; ` +
      `EXECUTE format('UPDATE %1$I.${SUMMARY_TABLE} AS s SET table_oid = $3, names_hash = t.h, recorded = t.c, updated_at = now() ` +
      `FROM (SELECT coalesce(sum(hashtextextended(name, 0)), 0) AS h, count(*)::int AS c FROM %%s) AS t ` +
      `WHERE s.schema_name = $1 AND s.table_name = $2', rel) USING tenant, tab, to_regclass(rel)::oid; ` +
      `EXCEPTION WHEN lock_not_available OR deadlock_detected THEN RETURN false; END; ` +
      `RETURN true; END $b$$f$, s)`,
  ];
  await dataSource.query(`DO $do$ DECLARE s text := ${schema}; BEGIN ${body.join('; ')}; END $do$`);
}

/**
 * Puts the summary's triggers on each of `tenants`' migrations tables and summarises them, in
 * statements of at most `perStatement` tenants (each statement locks every table it touches);
 * resolves how many are summarised now. Tenants whose table is missing or busy are left as they
 * are: the next run reads them as today, and tries again.
 */
export async function watchTenants(
  dataSource: DataSource,
  place: SummaryPlace,
  tenants: readonly string[],
  table: string,
  perStatement: number,
): Promise<number> {
  let watched = 0;
  for (let start = 0; start < tenants.length; start += perStatement) {
    const rows = (await dataSource.query(
      `SELECT count(*) FILTER (WHERE ${qualified(place, WATCH)}(t, $2))::int AS n FROM unnest($1::text[]) AS t`,
      [tenants.slice(start, start + perStatement), table],
    )) as Array<{ n: number }>;
    watched += Number(rows[0]?.n ?? 0);
  }
  return watched;
}
