/** A lock a statement took on the shadow (or a relation it rewrote), as PostgreSQL itself reported it. */
export interface ObservedLock {
  /** Schema and name as the live database has them; for a relation the pending migrations created, its name in the shadow. */
  readonly schema: string;
  readonly name: string;
  readonly kind: 'table' | 'index' | 'other';
  /** The table an index belongs to (schema-qualified), when it was live. */
  readonly table?: string;
  /** The partitioned table a live partition belongs to: a statement on the parent locks its partitions too. */
  readonly partitionOf?: { readonly schema: string; readonly name: string };
  /** The mode taken (or strengthened) by this statement, as SQL names it: `ACCESS EXCLUSIVE`, `SHARE`… */
  readonly mode: string;
  /** Created by the pending migrations: not a live relation. */
  readonly created?: true;
  /** Its file was replaced by this statement (a rewrite of the table, a rebuild of the index). */
  readonly rewritten?: true;
}

/** pg_locks' mode names, weakest first, and how SQL names them. */
const MODES: ReadonlyArray<readonly [string, string]> = [
  ['AccessShareLock', 'ACCESS SHARE'],
  ['RowShareLock', 'ROW SHARE'],
  ['RowExclusiveLock', 'ROW EXCLUSIVE'],
  ['ShareUpdateExclusiveLock', 'SHARE UPDATE EXCLUSIVE'],
  ['ShareLock', 'SHARE'],
  ['ShareRowExclusiveLock', 'SHARE ROW EXCLUSIVE'],
  ['ExclusiveLock', 'EXCLUSIVE'],
  ['AccessExclusiveLock', 'ACCESS EXCLUSIVE'],
];
const STRENGTH = new Map(MODES.map(([mode], index) => [mode, index]));

/** How strong a lock mode is (SQL's name): higher blocks more; -1 for one it does not know. */
export function lockStrength(mode: string): number {
  return MODES.findIndex(([, name]) => name === mode);
}

interface Relation {
  readonly schema: string;
  readonly name: string;
  readonly kind: ObservedLock['kind'];
  readonly file: number;
  readonly table?: string;
  readonly partitionOf?: { readonly schema: string; readonly name: string };
}

/** An SQL condition on a schema name column: not PostgreSQL's own (catalog, information schema, TOAST, temporary). */
export function userSchema(column: string): string {
  return `${column} NOT IN ('pg_catalog', 'information_schema') AND ${column} NOT LIKE 'pg\\_toast%' AND ${column} NOT LIKE 'pg\\_temp\\_%'`;
}

/**
 * Watches one session of the shadow through its transactions: what existed before the pending
 * migrations ran (the live relations, by oid), then after each statement the relation locks the
 * session holds (pg_locks) and the files of the relations it locked (a rewrite gives a table or
 * an index a new relfilenode; nothing is rewritten without a lock). A lock is held until the
 * transaction ends, so each statement is credited with what it took or strengthened.
 */
export class LockObserver {
  private readonly held = new Map<number, number>();
  private readonly rewritten = new Set<number>();

  private constructor(
    private readonly query: (sql: string) => Promise<unknown>,
    private readonly before: ReadonlyMap<number, Relation>,
  ) {}

  /** Reads what exists now, through `query` (the session's own, in its transaction; not recorded). */
  static async start(query: (sql: string) => Promise<unknown>): Promise<LockObserver> {
    const rows = (await query(
      `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind, c.relfilenode::int AS file,
         (SELECT format('%I.%I', tn.nspname, t.relname) FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_namespace tn ON tn.oid = t.relnamespace WHERE i.indexrelid = c.oid) AS "table",
         (SELECT json_build_object('schema', pn.nspname, 'name', p.relname) FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent
            JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE h.inhrelid = c.oid AND p.relkind IN ('p', 'I') LIMIT 1) AS parent
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${userSchema('n.nspname')}`,
    )) as Array<{
      oid: number;
      schema: string;
      name: string;
      relkind: string;
      file: number;
      table: string | null;
      parent: { schema: string; name: string } | null;
    }>;
    const observer = new LockObserver(
      query,
      new Map(
        rows.map((row) => [
          row.oid,
          {
            schema: row.schema,
            name: row.name,
            kind: kindOf(row.relkind),
            file: row.file,
            ...(row.table ? { table: row.table } : {}),
            ...(row.parent ? { partitionOf: row.parent } : {}),
          },
        ]),
      ),
    );
    await observer.next();
    return observer;
  }

  /** The transaction ended (committed): its locks are gone, and the next statement's are its own. */
  released(): void {
    this.held.clear();
  }

  /** What the statement just run took or strengthened (stronger than ACCESS SHARE), and what it rewrote. */
  async next(): Promise<ObservedLock[]> {
    const rows = (await this.query(
      `SELECT l.relation::int AS oid, l.mode, c.relfilenode::int AS file, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
         coalesce(${userSchema('n.nspname')}, false) AS user_schema
       FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    )) as Array<{
      oid: number;
      mode: string;
      file: number | null;
      schema: string | null;
      name: string | null;
      relkind: string | null;
      user_schema: boolean;
    }>;
    // A relation may be locked in several modes: the strongest counts.
    const byRelation = new Map<number, (typeof rows)[number]>();
    for (const row of rows) {
      const known = byRelation.get(row.oid);
      if (!known || (STRENGTH.get(row.mode) ?? 0) > (STRENGTH.get(known.mode) ?? 0)) byRelation.set(row.oid, row);
    }
    const observed: ObservedLock[] = [];
    for (const [oid, row] of byRelation) {
      const live = this.before.get(oid);
      if (!live && (row.schema === null || row.name === null || !row.user_schema)) continue;
      const strength = STRENGTH.get(row.mode) ?? 0;
      const taken = strength > (this.held.get(oid) ?? STRENGTH.get('AccessShareLock')!);
      const rewritten = live !== undefined && row.file !== null && row.file !== live.file && !this.rewritten.has(oid);
      if (taken) this.held.set(oid, strength);
      if (rewritten) this.rewritten.add(oid);
      if (!taken && !rewritten) continue;
      observed.push({
        ...(live
          ? {
              schema: live.schema,
              name: live.name,
              kind: live.kind,
              ...(live.table ? { table: live.table } : {}),
              ...(live.partitionOf ? { partitionOf: live.partitionOf } : {}),
            }
          : { schema: row.schema!, name: row.name!, kind: kindOf(row.relkind ?? ''), created: true as const }),
        mode: MODES[this.held.get(oid) ?? strength]![1],
        ...(rewritten ? { rewritten: true as const } : {}),
      });
    }
    return observed;
  }
}

function kindOf(relkind: string): ObservedLock['kind'] {
  if (relkind === 'r' || relkind === 'p') return 'table';
  if (relkind === 'i' || relkind === 'I') return 'index';
  return 'other';
}
