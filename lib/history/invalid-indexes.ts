import type { QueryRunner } from 'typeorm';

/** An index PostgreSQL marks INVALID (`pg_index.indisvalid` false) that no build is working on now. */
export interface InvalidIndex {
  /** Schema-qualified, quoted where SQL needs it. */
  readonly index: string;
  /** Its schema and name as the catalog has them. */
  readonly schema: string;
  readonly name: string;
  readonly table: string;
  /** As PostgreSQL prints it (`pg_get_indexdef`). */
  readonly definition: string;
  /** The statement that removes it without blocking the table. */
  readonly drop: string;
}

/**
 * The INVALID indexes of the database (PostgreSQL; none elsewhere): what an interrupted or failed
 * `CREATE INDEX CONCURRENTLY` leaves. Queries still use none of them, writes still maintain them,
 * and `CREATE INDEX … IF NOT EXISTS` of the same name skips them, so they stay until dropped. One
 * being built right now (`pg_stat_progress_create_index`) is not one. Reads the catalog only.
 */
export async function readInvalidIndexes(queryRunner: QueryRunner): Promise<InvalidIndex[]> {
  if (queryRunner.connection.options.type !== 'postgres') return [];
  const rows = (await queryRunner.query(
    `SELECT format('%I.%I', n.nspname, x.relname) AS index, n.nspname AS schema, x.relname AS name, format('%I.%I', tn.nspname, t.relname) AS "table",
            pg_get_indexdef(i.indexrelid) AS definition
       FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_namespace n ON n.oid = x.relnamespace
       JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
      WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
        AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)
      ORDER BY 1`,
  )) as Array<{ index: string; schema: string; name: string; table: string; definition: string }>;
  return rows.map((row) => ({ ...row, drop: `DROP INDEX CONCURRENTLY ${row.index}` }));
}

/** What an error or a status line says of them: each, and how to remove it. */
export function describeInvalidIndexes(indexes: readonly InvalidIndex[]): string {
  return (
    `the database has ${indexes.length === 1 ? 'an INVALID index' : `${indexes.length} INVALID indexes`}, left by an interrupted or failed ` +
    `CREATE INDEX CONCURRENTLY: ${indexes.map((index) => `${index.index} on ${index.table}`).join(', ')}. ` +
    `Remove ${indexes.length === 1 ? 'it' : 'each'} (${indexes.map((index) => `${index.drop};`).join(' ')}) before the migration runs again: ` +
    `CREATE INDEX … IF NOT EXISTS would skip it and leave it INVALID`
  );
}
