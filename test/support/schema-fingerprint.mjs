// The tests' and the benches' own view of a PostgreSQL schema: shared by test/ and bench/.

const USER_SCHEMA = (column) =>
  `${column} NOT IN ('pg_catalog', 'information_schema') AND ${column} NOT LIKE 'pg\\_toast%' AND ${column} NOT LIKE 'pg\\_temp\\_%'`;
const NOT_EXTENSION = (oid, catalog) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;

/**
 * What PostgreSQL's catalog says of a database's own schema (not its extensions' objects), as
 * sorted lines `kind name: detail`, compared field by field as the catalog prints them: two
 * databases with the same schema give the same lines whatever their oids, data or sequence values.
 * Columns by position among the live ones (a dropped column leaves a gap in attnum).
 */
export async function schemaFingerprint(db) {
  const rows = await db.query(`
    SELECT kind || ' ' || name || ': ' || detail AS line FROM (
      SELECT 'schema' AS kind, n.nspname::text AS name, '' AS detail FROM pg_namespace n WHERE ${USER_SCHEMA('n.nspname')}
      UNION ALL SELECT 'extension', x.extname, x.extnamespace::regnamespace::text FROM pg_extension x
      UNION ALL SELECT 'relation', format('%I.%I', n.nspname, c.relname),
          concat_ws(' ', c.relkind, c.relpersistence, pg_get_partkeydef(c.oid), pg_get_expr(c.relpartbound, c.oid), array_to_string(c.reloptions, ','),
            'rls=' || c.relrowsecurity, 'force=' || c.relforcerowsecurity)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE ${USER_SCHEMA('n.nspname')} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i', 'I', 'c', 'f') AND ${NOT_EXTENSION('c.oid', 'pg_class')}
      UNION ALL SELECT 'column', format('%I.%I #%s %I', n.nspname, c.relname, row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname),
          concat_ws(' ', format_type(a.atttypid, a.atttypmod), 'notnull=' || a.attnotnull, 'default=' || pg_get_expr(d.adbin, d.adrelid),
            'identity=' || a.attidentity::text, 'generated=' || a.attgenerated::text, 'collation=' || a.attcollation::regcollation)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE ${USER_SCHEMA('n.nspname')} AND c.relkind IN ('r', 'p', 'v', 'm', 'c', 'f') AND a.attnum > 0 AND NOT a.attisdropped AND ${NOT_EXTENSION('c.oid', 'pg_class')}
      UNION ALL SELECT 'constraint', format('%s.%I', coalesce(k.conrelid::regclass::text, k.contypid::regtype::text), k.conname),
          concat_ws(' ', k.contype, pg_get_constraintdef(k.oid), 'valid=' || k.convalidated, 'deferrable=' || k.condeferrable)
        FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE ${USER_SCHEMA('n.nspname')} AND ${NOT_EXTENSION('k.oid', 'pg_constraint')}
      UNION ALL SELECT 'index', format('%I.%I', n.nspname, x.relname), pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid
        FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_namespace n ON n.oid = x.relnamespace
       WHERE ${USER_SCHEMA('n.nspname')} AND ${NOT_EXTENSION('i.indrelid', 'pg_class')}
      UNION ALL SELECT 'view', format('%I.%I', n.nspname, c.relname), pg_get_viewdef(c.oid)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND ${USER_SCHEMA('n.nspname')} AND ${NOT_EXTENSION('c.oid', 'pg_class')}
      UNION ALL SELECT 'sequence', s.seqrelid::regclass::text, concat_ws(' ', format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
            (SELECT 'owned by ' || d.refobjid::regclass || '.' || d.refobjsubid || ' ' || d.deptype::text FROM pg_depend d
              WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
        FROM pg_sequence s WHERE ${NOT_EXTENSION('s.seqrelid', 'pg_class')}
      UNION ALL SELECT 'type', format('%I.%I', n.nspname, t.typname),
          concat_ws(' ', t.typtype, format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault,
            (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid))
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
       WHERE ${USER_SCHEMA('n.nspname')} AND t.typtype IN ('e', 'd', 'c') AND ${NOT_EXTENSION('t.oid', 'pg_type')}
         AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
      UNION ALL SELECT 'function', p.oid::regprocedure::text, pg_get_functiondef(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE p.prokind IN ('f', 'p') AND ${USER_SCHEMA('n.nspname')} AND ${NOT_EXTENSION('p.oid', 'pg_proc')}
      UNION ALL SELECT 'trigger', format('%s.%I', t.tgrelid::regclass, t.tgname), pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
        FROM pg_trigger t WHERE NOT t.tgisinternal AND ${NOT_EXTENSION('t.tgrelid', 'pg_class')}
      UNION ALL SELECT 'rule', format('%s.%I', r.ev_class::regclass, r.rulename), pg_get_ruledef(r.oid)
        FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE r.rulename <> '_RETURN' AND ${USER_SCHEMA('n.nspname')}
      UNION ALL SELECT 'policy', format('%s.%I', p.polrelid::regclass, p.polname),
          concat_ws(' ', p.polcmd, p.polpermissive, p.polroles::text, pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
        FROM pg_policy p
      UNION ALL SELECT 'statistics', format('%I.%I', n.nspname, s.stxname), pg_get_statisticsobjdef(s.oid)
        FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE ${USER_SCHEMA('n.nspname')}
    ) AS everything ORDER BY 1`);
  return rows.map((row) => row.line);
}
