import type { DataSource } from 'typeorm';
import { quoteIdentifier } from '../util/sql-identifier.js';

/** The most tenants' migrations tables one statement reads (a UNION ALL of that many counts). */
export const TENANTS_PER_QUERY = 2_000;

/**
 * The share of the server's shared lock table (max_locks_per_transaction × (max_connections +
 * max_prepared_transactions) slots) one statement may fill: it holds a lock on every table it
 * reads until it ends, and other sessions (and replicas doing the same) need slots too. 800
 * tables per statement with PostgreSQL's defaults.
 */
const LOCK_TABLE_SHARE = 1 / 8;

/** What the batched read needs to know about the tenant migrations of this build. */
export interface TenantHistoryQuery {
  /** The tenant migrations' names in this build. */
  readonly known: readonly string[];
  /** The migrations table's name in each tenant schema, and the started markers' table beside it. */
  readonly table: string;
  readonly startedTable: string;
}

/**
 * The tenants whose migrations table already records every migration of this build and nothing
 * else, with no started marker table: nothing to do for them, which a restart with thousands of
 * tenants must learn in a bounded number of statements, not one per tenant. One catalog query finds
 * which tenant schemas have the tables (and how many lock slots the server has), then one
 * statement per batch of tenants counts their recorded migrations: batches of at most
 * {@link TENANTS_PER_QUERY}, and of an eighth of the lock table. Every other tenant (a table missing, a migration pending, one
 * this build does not know, a marker table) goes through the full run, which reports it as usual.
 * Tenant names are validated identifiers, quoted.
 */
export async function tenantsUpToDate(dataSource: DataSource, tenants: readonly string[], query: TenantHistoryQuery): Promise<Set<string>> {
  const upToDate = new Set<string>();
  if (tenants.length === 0 || query.known.length === 0) return upToDate;
  const tables = (await dataSource.query(
    `SELECT n.nspname AS schema, c.relname AS name, current_setting('max_locks_per_transaction')::int * ` +
      `(current_setting('max_connections')::int + current_setting('max_prepared_transactions')::int) AS slots ` +
      `FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ` +
      `WHERE n.nspname = ANY($1::text[]) AND c.relname = ANY($2::text[]) AND c.relkind IN ('r', 'p')`,
    [tenants, [query.table, query.startedTable]],
  )) as Array<{ schema: string; name: string; slots: number }>;
  const perQuery = Math.max(1, Math.min(TENANTS_PER_QUERY, Math.floor(Number(tables[0]?.slots ?? 0) * LOCK_TABLE_SHARE)));
  const withTable = new Set(tables.filter((row) => row.name === query.table).map((row) => row.schema));
  const withMarkers = new Set(tables.filter((row) => row.name === query.startedTable).map((row) => row.schema));
  const candidates = tenants.filter((tenant) => withTable.has(tenant) && !withMarkers.has(tenant));
  const table = quoteIdentifier(query.table);
  for (let start = 0; start < candidates.length; start += perQuery) {
    const chunk = candidates.slice(start, start + perQuery);
    const counts = (await dataSource.query(
      chunk
        .map(
          (tenant, index) =>
            `SELECT ${index} AS i, count(*)::int AS total, count(*) FILTER (WHERE name = ANY($1::text[]))::int AS known FROM ${quoteIdentifier(tenant)}.${table}`,
        )
        .join(' UNION ALL '),
      [query.known],
    )) as Array<{ i: number; total: number; known: number }>;
    for (const { i, total, known } of counts) {
      if (known === query.known.length && total === known) upToDate.add(chunk[i]!);
    }
  }
  return upToDate;
}
