import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { quoteIdentifier } from '../util/sql-identifier.js';

/**
 * The tenants' summary (PostgreSQL): one row per tenant migrations table, in the DataSource's own
 * schema, saying which migration names that table records (an MD5 of the names in byte order, and
 * their count). A statement-level trigger on each tenant's migrations table keeps its row exact:
 * every INSERT, UPDATE, DELETE or TRUNCATE, whoever sends it, re-reads the table in the same
 * transaction. A restart then learns which of thousands of tenants have nothing to do in one
 * statement over the catalog and this table, without opening any tenant's table.
 *
 * A row is trusted only while the catalog vouches for it: the table it describes is the one there
 * now (same oid: a dropped, recreated or restored table is not), and the trigger is on that table,
 * enabled and calling this summary's function. Anything else sends the tenant to the reads that
 * look at its table itself.
 */
export const SUMMARY_TABLE = 'auto_migrator_tenants';
/** The trigger on each tenant's migrations table. */
export const SUMMARY_TRIGGER = 'auto_migrator_summary';
const SUMMARIZE = 'auto_migrator_tenant_summarize';
const CHANGED = 'auto_migrator_tenant_changed';
const WATCH = 'auto_migrator_tenant_watch';

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
  /** The summary row describes the table there now, and the trigger keeps it current. */
  readonly summarized: boolean;
  /** The summarized names are exactly this build's. */
  readonly matches: boolean;
  /** The server's lock table size (see LOCK_SLOTS). */
  readonly slots: number;
}

/** The fingerprint the summary keeps of a set of migration names: MD5 of the names in byte order, one per line. */
export function namesFingerprint(names: readonly string[]): string {
  const sorted = names.map((name) => Buffer.from(name, 'utf8')).sort(Buffer.compare);
  return createHash('md5')
    .update(Buffer.concat(sorted.flatMap((name, index) => (index === 0 ? [name] : [Buffer.from('\n'), name]))))
    .digest('hex');
}

function qualified(place: SummaryPlace, name: string): string {
  return place.schema === undefined ? quoteIdentifier(name) : `${quoteIdentifier(place.schema)}.${quoteIdentifier(name)}`;
}

/** A PostgreSQL string literal (standard_conforming_strings). */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * What the summary says of `tenants`, in one statement over the catalog and the summary table: no
 * tenant table is opened. Only the tenants with something to look at are returned (the others are
 * up to date); undefined when the summary table does not exist yet.
 */
export async function readTenantSummary(
  dataSource: DataSource,
  place: SummaryPlace,
  tenants: readonly string[],
  query: { readonly known: readonly string[]; readonly table: string; readonly startedTable: string },
): Promise<TenantSummaryRow[] | undefined> {
  const [found] = (await dataSource.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [qualified(place, SUMMARY_TABLE)])) as Array<{
    present: boolean;
  }>;
  if (!found?.present) return undefined;
  return (await dataSource.query(
    `SELECT schema, "hasTable", "hasMarkers", summarized, matches, ${LOCK_SLOTS} AS slots FROM (` +
      `SELECT t.schema, c.oid IS NOT NULL AS "hasTable", m.oid IS NOT NULL AS "hasMarkers", ` +
      `coalesce(s.table_oid = c.oid AND EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = $4 ` +
      `AND g.tgenabled IN ('O', 'A') AND g.tgfoid = to_regprocedure($5)), false) AS summarized, ` +
      `coalesce(s.names_md5 = $6 AND s.recorded = $7, false) AS matches ` +
      `FROM unnest($1::text[]) AS t(schema) ` +
      `LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema ` +
      `LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = $2 AND c.relkind IN ('r', 'p') ` +
      `LEFT JOIN pg_catalog.pg_class m ON m.relnamespace = n.oid AND m.relname = $3 ` +
      `LEFT JOIN ${qualified(place, SUMMARY_TABLE)} s ON s.schema_name = t.schema AND s.table_name = $2` +
      `) AS tenant WHERE NOT (summarized AND matches AND NOT "hasMarkers")`,
    [
      tenants,
      query.table,
      query.startedTable,
      SUMMARY_TRIGGER,
      `${qualified(place, CHANGED)}()`,
      namesFingerprint(query.known),
      query.known.length,
    ],
  )) as TenantSummaryRow[];
}

/**
 * Creates the summary table and its functions where missing (one statement, serialised between
 * processes by a transaction-scoped advisory lock, so replicas doing it at once do not collide).
 */
export async function installSummary(dataSource: DataSource, place: SummaryPlace): Promise<void> {
  // The schema is resolved on the server when the DataSource does not name one: the functions
  // run with their own search_path, so every name inside them is qualified.
  const schema = place.schema === undefined ? 'current_schema()' : literal(place.schema);
  const body = [
    `PERFORM pg_advisory_xact_lock(hashtext(${literal(`nestjs-auto-migrator:${SUMMARY_TABLE}`)}))`,
    `EXECUTE format('CREATE TABLE IF NOT EXISTS %I.${SUMMARY_TABLE} (schema_name text NOT NULL, table_name text NOT NULL, ` +
      `table_oid oid NOT NULL, names_md5 text NOT NULL, recorded integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), ` +
      `PRIMARY KEY (schema_name, table_name))', s)`,
    // The table's row for one tenant migrations table, re-read under the row's lock: concurrent
    // writers to the same table take turns, each reading what the others committed.
    `EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I.${SUMMARIZE}(tenant text, tab text) RETURNS void LANGUAGE plpgsql ` +
      `SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $b$ BEGIN ` +
      // Dropped with the rest of the schema (a drop-and-re-migrate of the DataSource): nothing to keep.
      `IF to_regclass(format('%%I.${SUMMARY_TABLE}', %1$L)) IS NULL THEN RETURN; END IF; ` +
      `INSERT INTO %1$I.${SUMMARY_TABLE} (schema_name, table_name, table_oid, names_md5, recorded) VALUES (tenant, tab, 0, '', -1) ON CONFLICT DO NOTHING; ` +
      `PERFORM 1 FROM %1$I.${SUMMARY_TABLE} WHERE schema_name = tenant AND table_name = tab FOR UPDATE; ` +
      `EXECUTE format('UPDATE %1$I.${SUMMARY_TABLE} SET table_oid = %%s, names_md5 = x.h, recorded = x.n, updated_at = now() ` +
      `FROM (SELECT md5(coalesce(string_agg(name, chr(10) ORDER BY name COLLATE "C"), '''')) AS h, count(*)::int AS n FROM %%I.%%I) x ` +
      `WHERE schema_name = $1 AND table_name = $2', to_regclass(format('%%I.%%I', tenant, tab))::oid, tenant, tab) USING tenant, tab; ` +
      `END $b$$f$, s)`,
    `EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I.${CHANGED}() RETURNS trigger LANGUAGE plpgsql ` +
      `SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $b$ BEGIN ` +
      `PERFORM %1$I.${SUMMARIZE}(TG_TABLE_SCHEMA, TG_TABLE_NAME); RETURN NULL; END $b$$f$, s)`,
    // Puts the trigger on one tenant's table (if it has none) and summarises the table; false when
    // the table is missing, or busy (another process migrating it, or putting the trigger on it).
    `EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I.${WATCH}(tenant text, tab text) RETURNS boolean LANGUAGE plpgsql AS $b$ ` +
      `DECLARE rel regclass := to_regclass(format('%%I.%%I', tenant, tab)); BEGIN ` +
      `IF rel IS NULL THEN RETURN false; END IF; ` +
      `PERFORM set_config('lock_timeout', '1000', true); ` +
      `BEGIN ` +
      `IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = rel AND tgname = '${SUMMARY_TRIGGER}') THEN ` +
      `EXECUTE format('CREATE TRIGGER ${SUMMARY_TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %%I.%%I ` +
      `FOR EACH STATEMENT EXECUTE PROCEDURE %1$I.${CHANGED}()', tenant, tab); END IF; ` +
      `PERFORM %1$I.${SUMMARIZE}(tenant, tab); ` +
      `EXCEPTION WHEN lock_not_available OR duplicate_object OR deadlock_detected THEN RETURN false; END; ` +
      `RETURN true; END $b$$f$, s)`,
  ];
  await dataSource.query(`DO $do$ DECLARE s text := ${schema}; BEGIN ${body.join('; ')}; END $do$`);
}

/**
 * Puts the summary's trigger on each of `tenants`' migrations tables and summarises them, in
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
