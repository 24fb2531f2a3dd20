import type { DataSource } from 'typeorm';
import { databaseErrorCode } from '../../util/error-chain.js';
import { LIVE_LOCK_WAIT_MS } from '../table-facts.js';
import { userSchema } from './observed-locks.js';

/** The live schema as statements that re-create it, and what they leave out. */
export interface CatalogCopy {
  /** In the order they must run. */
  readonly statements: readonly string[];
  /** What exists live but is not copied ("aggregate public.total", …): a migration that uses it fails in the shadow. */
  readonly uncopied: readonly string[];
}

/** Not a member of an extension (CREATE EXTENSION makes those). `kind` is the catalog the object's oid is in. */
const notFromExtension = (oid: string, kind: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${kind}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;

/** A relation of a schema of the user's, not an extension's. */
const userRelation = (alias: string) => `${userSchema(`${alias}_n.nspname`)} AND ${notFromExtension(`${alias}.oid`, 'pg_class')}`;

/** Joins `alias`'s namespace as `<alias>_n`. */
const withNamespace = (alias: string) => `JOIN pg_namespace ${alias}_n ON ${alias}_n.oid = ${alias}.relnamespace`;

/** A column's definition in CREATE TABLE: type, collation, default or generation, identity, NOT NULL. */
const COLUMN_SQL = `format('%I %s%s%s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
    CASE WHEN a.attcollation <> 0 AND a.attcollation <> ty.typcollation THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END,
    CASE WHEN to_jsonb(a)->>'attgenerated' = 's' THEN format(' GENERATED ALWAYS AS (%s) STORED', pg_get_expr(ad.adbin, ad.adrelid))
         WHEN to_jsonb(a)->>'attgenerated' = 'v' THEN format(' GENERATED ALWAYS AS (%s) VIRTUAL', pg_get_expr(ad.adbin, ad.adrelid))
         -- A default names no column: printed without its table (pg_get_expr with a table locks it, and waits behind a migration's lock there).
         WHEN ad.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(ad.adbin, 0) ELSE '' END,
    CASE WHEN a.attidentity IN ('a', 'd') THEN (
      SELECT format(' GENERATED %s AS IDENTITY (SEQUENCE NAME %I.%I INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s)',
          CASE a.attidentity WHEN 'a' THEN 'ALWAYS' ELSE 'BY DEFAULT' END, sn.nspname, sc.relname, s.seqincrement, s.seqmin, s.seqmax,
          s.seqstart, s.seqcache, CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END)
        FROM pg_depend d JOIN pg_class sc ON sc.oid = d.objid JOIN pg_namespace sn ON sn.oid = sc.relnamespace
        JOIN pg_sequence s ON s.seqrelid = sc.oid
       WHERE d.classid = 'pg_class'::regclass AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum AND d.deptype = 'i' LIMIT 1)
    ELSE '' END,
    CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END)`;

/**
 * The live database's schema, read from its catalog, as the statements that re-create it in an
 * empty database on the same server (the library's own copy where no pg_dump can be had): schemas,
 * extensions, enum, domain and composite types, sequences, functions and procedures, tables (with
 * their columns' types, collations, defaults, identities and generated columns; partitioned tables
 * and their partitions), constraints, indexes, views and materialized views, triggers, rules, row
 * security policies and extended statistics — each as PostgreSQL prints it (`pg_get_indexdef`,
 * `pg_get_constraintdef`, `pg_get_viewdef`, `pg_get_functiondef`, `pg_get_triggerdef`…). What it
 * does not copy is listed. Reads only the catalog, in one REPEATABLE READ snapshot.
 */
export async function copyFromCatalog(live: DataSource): Promise<CatalogCopy> {
  const session = live.createQueryRunner('master');
  try {
    await session.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // Printing a view, a generated column, a partition bound or a policy takes ACCESS SHARE on its
    // table, which waits behind a stronger lock held or queued there: the copy gives up instead.
    await session.query(`SELECT set_config('lock_timeout', $1, true)`, [String(LIVE_LOCK_WAIT_MS)]);
    const rows = async (sql: string) => (await session.query(sql)) as Array<Record<string, unknown>>;
    const texts = async (sql: string) => (await rows(sql)).map((row) => String(row['sql']));

    const schemas = await texts(
      `SELECT format('CREATE SCHEMA IF NOT EXISTS %I;', n.nspname) AS sql FROM pg_namespace n
        WHERE ${userSchema('n.nspname')} AND ${notFromExtension('n.oid', 'pg_namespace')} ORDER BY n.oid`,
    );
    const extensions = await texts(
      `SELECT format('CREATE EXTENSION IF NOT EXISTS %I WITH SCHEMA %I CASCADE;', x.extname, n.nspname) AS sql
         FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace WHERE x.extname <> 'plpgsql' ORDER BY x.oid`,
    );
    const userType = `${userSchema('n.nspname')} AND ${notFromExtension('t.oid', 'pg_type')}`;
    const enums = await texts(
      `SELECT format('CREATE TYPE %I.%I AS ENUM (%s);', n.nspname, t.typname,
           (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)) AS sql
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype = 'e' AND ${userType} ORDER BY t.oid`,
    );
    const domains = await texts(
      `SELECT format('CREATE DOMAIN %I.%I AS %s%s%s%s;', n.nspname, t.typname, format_type(t.typbasetype, t.typtypmod),
           CASE WHEN t.typcollation <> 0 AND t.typcollation <> b.typcollation THEN ' COLLATE ' || t.typcollation::regcollation::text ELSE '' END,
           CASE WHEN t.typdefault IS NOT NULL THEN ' DEFAULT ' || t.typdefault ELSE '' END,
           CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END)
         || coalesce((SELECT string_agg(format(' ALTER DOMAIN %I.%I ADD CONSTRAINT %I %s;', n.nspname, t.typname, k.conname, pg_get_constraintdef(k.oid)), '' ORDER BY k.oid)
              FROM pg_constraint k WHERE k.contypid = t.oid AND k.contype = 'c'), '') AS sql
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_type b ON b.oid = t.typbasetype
        WHERE t.typtype = 'd' AND ${userType} ORDER BY t.oid`,
    );
    const composites = await texts(
      `SELECT format('CREATE TYPE %I.%I AS (%s);', n.nspname, t.typname,
           (SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
              FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)) AS sql
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_class c ON c.oid = t.typrelid
        WHERE t.typtype = 'c' AND c.relkind = 'c' AND ${userType} ORDER BY t.oid`,
    );
    // Sequences other than identity columns' (their columns make them) and extensions'.
    const sequences = await texts(
      `SELECT format('CREATE SEQUENCE %I.%I AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s;', c_n.nspname, c.relname,
           format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcache, CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END) AS sql
         FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid ${withNamespace('c')}
        WHERE ${userRelation('c')}
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i')
        ORDER BY c.oid`,
    );
    // Functions and procedures in SQL-level languages; a SQL body (BEGIN ATOMIC) names tables, so it comes after them.
    const functions = await rows(
      `SELECT pg_get_functiondef(p.oid) || ';' AS sql, to_jsonb(p)->>'prosqlbody' IS NOT NULL AS atomic
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
        WHERE p.prokind IN ('f', 'p') AND l.lanname NOT IN ('c', 'internal') AND ${userSchema('n.nspname')} AND ${notFromExtension('p.oid', 'pg_proc')}
        ORDER BY p.oid`,
    );
    const tables = (await rows(
      `SELECT c.oid::int AS oid,
           (SELECT h.inhparent::int FROM pg_inherits h WHERE h.inhrelid = c.oid AND c.relispartition) AS parent,
           CASE WHEN c.relispartition THEN
             format('CREATE TABLE %I.%I PARTITION OF %s %s%s;', c_n.nspname, c.relname,
               (SELECT h.inhparent::regclass::text FROM pg_inherits h WHERE h.inhrelid = c.oid), pg_get_expr(c.relpartbound, c.oid),
               CASE WHEN c.relkind = 'p' THEN ' PARTITION BY ' || pg_get_partkeydef(c.oid) ELSE '' END)
           ELSE
             format('CREATE %sTABLE %I.%I (%s)%s%s;', CASE c.relpersistence WHEN 'u' THEN 'UNLOGGED ' ELSE '' END, c_n.nspname, c.relname,
               coalesce((SELECT string_agg(${COLUMN_SQL}, ', ' ORDER BY a.attnum)
                  FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
                  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), ''),
               CASE WHEN c.relkind = 'p' THEN ' PARTITION BY ' || pg_get_partkeydef(c.oid) ELSE '' END,
               CASE WHEN c.reloptions IS NOT NULL THEN ' WITH (' || array_to_string(c.reloptions, ', ') || ')' ELSE '' END)
           END
           || CASE WHEN c.relrowsecurity THEN format(' ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY;', c_n.nspname, c.relname) ELSE '' END
           || CASE WHEN c.relforcerowsecurity THEN format(' ALTER TABLE %I.%I FORCE ROW LEVEL SECURITY;', c_n.nspname, c.relname) ELSE '' END AS sql
         FROM pg_class c ${withNamespace('c')}
        WHERE c.relkind IN ('r', 'p') AND ${userRelation('c')}
          AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = c.oid AND NOT c.relispartition)
        ORDER BY c.oid`,
    )) as Array<{ oid: number; parent: number | null; sql: string }>;
    const ownedSequences = await texts(
      `SELECT format('ALTER SEQUENCE %I.%I OWNED BY %I.%I.%I;', s_n.nspname, s.relname, t_n.nspname, t.relname, a.attname) AS sql
         FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' ${withNamespace('s')}
         JOIN pg_class t ON t.oid = d.refobjid ${withNamespace('t')}
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
        WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' AND ${userRelation('s')}
        ORDER BY s.oid`,
    );
    // Constraints: keys first (foreign keys need them), a partition's own only (its parent's are made with it), checks the table declares.
    const constraints = (await rows(
      `SELECT format('ALTER TABLE %s%I.%I ADD CONSTRAINT %I %s;', CASE WHEN c.relkind = 'p' THEN '' ELSE 'ONLY ' END, c_n.nspname, c.relname,
           k.conname, pg_get_constraintdef(k.oid)) AS sql, k.contype::text AS type
         FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid ${withNamespace('c')}
        WHERE k.contype IN ('p', 'u', 'x', 'c', 'f') AND k.conparentid = 0 AND (k.contype <> 'c' OR k.conislocal) AND ${userRelation('c')}
        ORDER BY CASE k.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'x' THEN 2 WHEN 'c' THEN 3 ELSE 4 END, k.oid`,
    )) as Array<{ sql: string; type: string }>;
    // Indexes no constraint owns; on a partitioned table, for its partitions too (an index made so is not repeated).
    const indexes = (await rows(
      `SELECT CASE WHEN c.relkind = 'p' THEN regexp_replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ') ELSE pg_get_indexdef(i.indexrelid) END || ';' AS sql,
           c.relkind = 'm' AS on_view
         FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid ${withNamespace('c')}
        -- An INVALID index (an interrupted CONCURRENTLY build) is not copied, as pg_dump does not copy it.
        WHERE c.relkind IN ('r', 'p', 'm') AND NOT x.relispartition AND i.indisvalid AND ${userRelation('c')}
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x') AND k.conrelid = i.indrelid)
        ORDER BY i.indexrelid`,
    )) as Array<{ sql: string; on_view: boolean }>;
    const views = (await rows(
      `SELECT c.oid::int AS oid,
           CASE c.relkind WHEN 'v' THEN format('CREATE VIEW %I.%I%s AS %s', c_n.nspname, c.relname,
               CASE WHEN c.reloptions IS NOT NULL THEN ' WITH (' || array_to_string(c.reloptions, ', ') || ')' ELSE '' END, pg_get_viewdef(c.oid))
             ELSE format('CREATE MATERIALIZED VIEW %I.%I AS %s WITH NO DATA;', c_n.nspname, c.relname, rtrim(pg_get_viewdef(c.oid), ';'))
           END AS sql,
           (SELECT coalesce(json_agg(DISTINCT d.refobjid::int), '[]') FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
             WHERE r.ev_class = c.oid AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> c.oid) AS uses
         FROM pg_class c ${withNamespace('c')} WHERE c.relkind IN ('v', 'm') AND ${userRelation('c')} ORDER BY c.oid`,
    )) as Array<{ oid: number; sql: string; uses: number[] }>;
    const triggers = await texts(
      `SELECT pg_get_triggerdef(t.oid) || ';'
           || CASE WHEN t.tgenabled = 'D' THEN format(' ALTER TABLE %I.%I DISABLE TRIGGER %I;', c_n.nspname, c.relname, t.tgname) ELSE '' END AS sql
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid ${withNamespace('c')}
        WHERE NOT t.tgisinternal AND coalesce((to_jsonb(t)->>'tgparentid')::oid, 0) = 0 AND ${userRelation('c')} ORDER BY t.oid`,
    );
    const rules = await texts(
      `SELECT pg_get_ruledef(r.oid) AS sql FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class ${withNamespace('c')}
        WHERE r.rulename <> '_RETURN' AND ${userRelation('c')} ORDER BY r.oid`,
    );
    const policies = await texts(
      `SELECT format('CREATE POLICY %I ON %I.%I AS %s FOR %s TO %s%s%s;', p.polname, c_n.nspname, c.relname,
           CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
           CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
           CASE WHEN p.polroles = '{0}' THEN 'PUBLIC' ELSE (SELECT string_agg(quote_ident(r.rolname), ', ') FROM pg_roles r WHERE r.oid = ANY(p.polroles)) END,
           CASE WHEN p.polqual IS NOT NULL THEN ' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')' ELSE '' END,
           CASE WHEN p.polwithcheck IS NOT NULL THEN ' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')' ELSE '' END) AS sql
         FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid ${withNamespace('c')} WHERE ${userRelation('c')} ORDER BY p.oid`,
    );
    const statistics = await texts(
      `SELECT pg_get_statisticsobjdef(s.oid) || ';' AS sql FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
        WHERE ${userSchema('n.nspname')} AND ${notFromExtension('s.oid', 'pg_statistic_ext')} ORDER BY s.oid`,
    );
    const uncopied = await texts(
      `SELECT format('%s %I.%I', kind, schema, name) AS sql FROM (
         SELECT CASE p.prokind WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window function' ELSE 'function in language ' || l.lanname END AS kind,
                n.nspname AS schema, p.proname AS name
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
          WHERE (p.prokind IN ('a', 'w') OR l.lanname IN ('c', 'internal')) AND ${userSchema('n.nspname')} AND ${notFromExtension('p.oid', 'pg_proc')}
         UNION ALL
         SELECT CASE t.typtype WHEN 'r' THEN 'range type' WHEN 'm' THEN 'multirange type' ELSE 'base type' END, n.nspname, t.typname
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
          WHERE t.typtype IN ('b', 'r') AND t.typelem = 0 AND ${userType}
         UNION ALL
         SELECT CASE c.relkind WHEN 'f' THEN 'foreign table' ELSE 'table inheriting from another' END, c_n.nspname, c.relname
           FROM pg_class c ${withNamespace('c')}
          WHERE ${userRelation('c')} AND (c.relkind = 'f'
             OR (c.relkind IN ('r', 'p') AND EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = c.oid AND NOT c.relispartition)))
         UNION ALL
         SELECT 'collation', n.nspname, k.collname FROM pg_collation k JOIN pg_namespace n ON n.oid = k.collnamespace
          WHERE ${userSchema('n.nspname')} AND ${notFromExtension('k.oid', 'pg_collation')}
         UNION ALL
         SELECT 'operator', n.nspname, o.oprname FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
          WHERE ${userSchema('n.nspname')} AND ${notFromExtension('o.oid', 'pg_operator')}
         UNION ALL
         SELECT 'text search configuration', n.nspname, f.cfgname FROM pg_ts_config f JOIN pg_namespace n ON n.oid = f.cfgnamespace
          WHERE ${userSchema('n.nspname')} AND ${notFromExtension('f.oid', 'pg_ts_config')}
       ) AS left_out ORDER BY 1`,
    );
    const eventTriggers = await texts(
      `SELECT format('event trigger %I', t.evtname) AS sql FROM pg_event_trigger t WHERE ${notFromExtension('t.oid', 'pg_event_trigger')}`,
    );
    return {
      statements: [
        // As pg_dump: a function body is not checked against tables that do not exist yet.
        'SET check_function_bodies = false;',
        ...schemas,
        ...extensions,
        ...enums,
        ...domains,
        ...composites,
        ...sequences,
        ...functions.filter((row) => row['atomic'] !== true).map((row) => String(row['sql'])),
        ...parentsFirst(tables).map((table) => table.sql),
        ...ownedSequences,
        ...constraints.filter(({ type }) => type === 'p' || type === 'u' || type === 'x').map(({ sql }) => sql),
        ...indexes.filter((index) => !index.on_view).map(({ sql }) => sql),
        ...constraints.filter(({ type }) => type === 'c' || type === 'f').map(({ sql }) => sql),
        ...functions.filter((row) => row['atomic'] === true).map((row) => String(row['sql'])),
        ...parentsFirst(views.map((view) => ({ ...view, parents: view.uses }))).map((view) => view.sql),
        ...indexes.filter((index) => index.on_view).map(({ sql }) => sql),
        ...triggers,
        ...rules,
        ...policies,
        ...statistics,
      ],
      uncopied: [...uncopied, ...eventTriggers],
    };
  } catch (error) {
    if (databaseErrorCode(error) === '55P03' && error instanceof Error) {
      error.message =
        `the live schema could not be copied from its catalog: another session holds a lock on one of its tables or views ` +
        `(a migration running there?) for longer than ${LIVE_LOCK_WAIT_MS / 1000} s; run the check again once it is done (${error.message})`;
    }
    throw error;
  } finally {
    await session.query('ROLLBACK').catch(() => undefined);
    await session.release();
  }
}

/** `items` ordered so that each comes after those it names (by oid) among them: a partition after its table, a view after the views it reads. */
function parentsFirst<T extends { oid: number; parent?: number | null; parents?: readonly number[] }>(items: readonly T[]): T[] {
  const byOid = new Map(items.map((item) => [item.oid, item]));
  const placed = new Set<number>();
  const ordered: T[] = [];
  const place = (item: T, path: Set<number>) => {
    if (placed.has(item.oid) || path.has(item.oid)) return;
    path.add(item.oid);
    for (const oid of [...(item.parents ?? []), ...(item.parent ? [item.parent] : [])]) {
      const before = byOid.get(oid);
      if (before) place(before, path);
    }
    placed.add(item.oid);
    ordered.push(item);
  };
  for (const item of items) place(item, new Set());
  return ordered;
}
