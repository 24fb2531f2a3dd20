import type { DataSource } from 'typeorm';
import { quoteIdentifier } from '../util/sql-identifier.js';
import { LOCK_SLOTS, readTenantSummary, type SummaryPlace, type SummaryWriter } from './tenant-summary.js';

/** The most tenants one statement of the summary's upkeep covers (see statementShare). */
export const TENANTS_PER_QUERY = 2_000;

/**
 * The most tenants' migrations tables one read of their rows opens: measured at 1,000 tenants, 750
 * tables read 100 at a time took 190 ms, 750 at once 480 ms (planning grows faster than the tables),
 * and counting in the server (an aggregate over the UNION ALL) 610-810 ms, the planner sending it to
 * parallel workers.
 */
const TABLES_PER_READ = 100;

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

/** What a restart learns about the tenants before migrating any. */
export interface TenantHistory {
  /** Tenants whose migrations table records every migration of this build and nothing else, with no started marker: nothing to do. */
  readonly upToDate: Set<string>;
  /** Tenants the summary does not vouch for (no trigger yet, a new or restored table): to summarise after the run. */
  readonly unsummarized: readonly string[];
  /**
   * Tenants known to have something pending at the time of the read: `pending`, as the summary
   * vouches; `no-table`, their migrations table did not exist (a new tenant).
   */
  readonly pending: ReadonlyMap<string, 'pending' | 'no-table'>;
  /** Tenants per statement that the server's lock table allows. */
  readonly perStatement: number;
  /** The summary's functions, when the library's session can write tenants without firing its triggers. */
  readonly writer?: SummaryWriter;
}

/**
 * Which tenants have nothing to do, learned in a bounded number of statements, not one per tenant.
 * With the summary (see tenant-summary.ts): one catalog statement answers for every tenant it
 * vouches for, without opening their tables. The others (no summary yet, or the summary off) are
 * read as before: one catalog query finds which tenant schemas have the tables, then one statement
 * per batch reads their recorded migrations, in batches of at most {@link TABLES_PER_READ} tables
 * and of an eighth of the lock table. A tenant the summary shows pending is not read: the full run
 * reads it under its lock and reports it as usual.
 */
export async function readTenantHistory(
  dataSource: DataSource,
  tenants: readonly string[],
  query: TenantHistoryQuery,
  summary: SummaryPlace | undefined,
): Promise<TenantHistory> {
  const upToDate = new Set<string>();
  if (tenants.length === 0 || query.known.length === 0) return { upToDate, unsummarized: [], pending: new Map(), perStatement: 1 };
  const read = summary ? await readTenantSummary(dataSource, summary, tenants, query) : undefined;
  if (read) {
    const { rows, writer } = read;
    const toLookAt = new Set(rows.map((row) => row.schema));
    for (const tenant of tenants) if (!toLookAt.has(tenant)) upToDate.add(tenant);
    const perStatement = statementShare(rows[0]?.slots);
    const unread = rows.filter((row) => !row.summarized && row.hasTable && !row.hasMarkers).map((row) => row.schema);
    for (const tenant of await countRecorded(dataSource, unread, query, perStatement)) upToDate.add(tenant);
    return {
      upToDate,
      unsummarized: rows.filter((row) => !row.summarized).map((row) => row.schema),
      pending: new Map([
        ...rows.filter((row) => !row.hasTable).map((row) => [row.schema, 'no-table'] as const),
        ...rows.filter((row) => row.summarized && !row.matches).map((row) => [row.schema, 'pending'] as const),
      ]),
      perStatement,
      writer,
    };
  }
  // No summary (yet): which tenants have the migrations table and no marker table, then their counts.
  // One row, also where no tenant has a table yet (the lock table's size sizes the summarising statements after the run).
  const [found] = (await dataSource.query(
    `SELECT ${LOCK_SLOTS} AS slots, coalesce((SELECT json_agg(json_build_object('schema', n.nspname, 'name', c.relname)) ` +
      `FROM unnest($1::text[]) AS t(schema) JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema ` +
      `JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid WHERE c.relname = ANY($2::text[]) AND c.relkind IN ('r', 'p')), '[]') AS tables`,
    [tenants, [query.table, query.startedTable]],
  )) as Array<{ slots: number; tables: Array<{ schema: string; name: string }> }>;
  const tables = found?.tables ?? [];
  const perStatement = statementShare(found?.slots);
  const withTable = new Set(tables.filter((row) => row.name === query.table).map((row) => row.schema));
  const withMarkers = new Set(tables.filter((row) => row.name === query.startedTable).map((row) => row.schema));
  const candidates = tenants.filter((tenant) => withTable.has(tenant) && !withMarkers.has(tenant));
  for (const tenant of await countRecorded(dataSource, candidates, query, perStatement)) upToDate.add(tenant);
  const pending = new Map(tenants.filter((tenant) => !withTable.has(tenant)).map((tenant) => [tenant, 'no-table'] as const));
  return { upToDate, unsummarized: summary ? tenants : [], pending, perStatement };
}

/** How many tables one statement may lock: an eighth of the server's lock table (`slots`), at most {@link TENANTS_PER_QUERY}. */
function statementShare(slots: number | undefined): number {
  return Math.max(1, Math.min(TENANTS_PER_QUERY, Math.floor(Number(slots ?? 0) * LOCK_TABLE_SHARE)));
}

/**
 * The tenants among `tenants` whose migrations table records exactly this build's migrations, read
 * table by table in batched statements of at most {@link TABLES_PER_READ} (and `perStatement`)
 * tables, each returning the names recorded, compared here.
 */
async function countRecorded(
  dataSource: DataSource,
  tenants: readonly string[],
  query: TenantHistoryQuery,
  perStatement: number,
): Promise<string[]> {
  const table = quoteIdentifier(query.table);
  const known = new Set(query.known);
  const found: string[] = [];
  const size = Math.min(perStatement, TABLES_PER_READ);
  for (let start = 0; start < tenants.length; start += size) {
    const chunk = tenants.slice(start, start + size);
    const rows = (await dataSource.query(
      chunk.map((tenant, index) => `SELECT ${index} AS i, name FROM ${quoteIdentifier(tenant)}.${table}`).join(' UNION ALL '),
    )) as Array<{ i: number; name: string }>;
    const recorded = chunk.map(() => [0, 0]);
    for (const { i, name } of rows) {
      const counts = recorded[i]!;
      counts[0]!++;
      if (known.has(name)) counts[1]!++;
    }
    for (const [i, [total, matching]] of recorded.entries()) {
      if (matching === known.size && total === matching) found.push(chunk[i]!);
    }
  }
  return found;
}
