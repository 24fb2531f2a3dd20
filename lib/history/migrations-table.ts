import type { DataSource, QueryRunner } from 'typeorm';
import { escapeTablePath } from '../typeorm/migration-internals.js';
import { withExpectedFailures } from '../typeorm/redacting-logger.js';
import { errorChain } from '../util/error-chain.js';

/** MySQL, MariaDB and Aurora MySQL: one SQL dialect (upserts, collations, implicit DDL commits). */
export function isMysqlFamily(dataSource: DataSource): boolean {
  const type = dataSource.options.type;
  return type === 'mysql' || type === 'mariadb' || type === 'aurora-mysql';
}

/** Bind placeholders for `count` parameters numbered after the first `offset`: PostgreSQL's `$n`, `?` elsewhere. */
export function placeholders(dataSource: DataSource, count: number, offset = 0): string[] {
  const postgres = dataSource.options.type === 'postgres';
  return Array.from({ length: count }, (_, i) => (postgres ? `$${offset + i + 1}` : '?'));
}

/** The migrations table's name as configured (without schema). */
export function migrationsTableName(dataSource: DataSource): string {
  return dataSource.options.migrationsTableName ?? 'migrations';
}

/** `table` qualified as TypeORM qualifies the migrations table (same schema and database). */
export function qualifiedTable(dataSource: DataSource, table: string): string {
  const driver = dataSource.driver;
  return driver.buildTableName(table, (driver.options as { schema?: string }).schema, driver.database);
}

/** `table` (qualified as the migrations table is) as the query runner escapes it for SQL. */
export function escapedTable(dataSource: DataSource, runner: QueryRunner, table: string): string {
  return escapeTablePath(runner, qualifiedTable(dataSource, table));
}

/**
 * Whether `table` (beside the migrations table) exists. On PostgreSQL one catalog lookup
 * (`to_regclass`), not TypeORM's hasTable, which scans information_schema.tables: with thousands of
 * tenant schemas, each holding a table of that name, that scan costs milliseconds per call.
 */
export async function tableExists(dataSource: DataSource, runner: QueryRunner, table: string): Promise<boolean> {
  if (dataSource.options.type !== 'postgres') return runner.hasTable(qualifiedTable(dataSource, table));
  const [row] = (await runner.query('SELECT to_regclass($1) IS NOT NULL AS present', [escapedTable(dataSource, runner, table)])) as Array<{
    present: boolean;
  }>;
  return row?.present === true;
}

/** Whether `table` (beside the migrations table) has `column`; on PostgreSQL one catalog lookup. */
export async function columnExists(dataSource: DataSource, runner: QueryRunner, table: string, column: string): Promise<boolean> {
  if (dataSource.options.type !== 'postgres') return runner.hasColumn(qualifiedTable(dataSource, table), column);
  const [row] = (await runner.query(
    'SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped) AS present',
    [escapedTable(dataSource, runner, table), column],
  )) as Array<{ present: boolean }>;
  return row?.present === true;
}

/**
 * Runs the SELECT `sql(from, beside)` on a table beside the migrations table (`beside` escapes the
 * path of another table there), where "no such table" means
 * no rows. Inside a transaction, where a failed statement would abort it, or with `askFirst` (a
 * table that usually does not exist, whose missing-table error TypeORM's logger would print at
 * every run), it asks whether the table exists first.
 */
export async function selectIfTableExists(
  dataSource: DataSource,
  queryRunner: QueryRunner | undefined,
  table: string,
  sql: (from: string, beside: (table: string) => string) => string,
  askFirst = false,
): Promise<Array<Record<string, unknown>>> {
  const runner = queryRunner ?? dataSource.createQueryRunner();
  try {
    if ((askFirst || runner.isTransactionActive) && !(await tableExists(dataSource, runner, table))) return [];
    try {
      const beside = (other: string) => escapedTable(dataSource, runner, other);
      // Where a failure would not abort a transaction, reading first and taking "no such table" for
      // no rows saves a round trip; TypeORM's logger does not report that expected failure.
      const select = () => runner.query(sql(beside(table), beside)) as Promise<Array<Record<string, unknown>>>;
      return runner.isTransactionActive ? await select() : await withExpectedFailures(runner, isMissingTable, select);
    } catch (error) {
      if (!runner.isTransactionActive && isMissingTable(error)) return [];
      throw error;
    }
  } finally {
    if (!queryRunner) await runner.release();
  }
}

/** PostgreSQL undefined_table, MySQL/MariaDB ER_NO_SUCH_TABLE, SQLite "no such table". */
export function isMissingTable(error: unknown): boolean {
  for (const { code, errno } of errorChain(error)) {
    if (code === '42P01' || code === 'ER_NO_SUCH_TABLE' || errno === 1146) return true;
  }
  return /no such table/i.test(String((error as { message?: unknown } | null)?.message ?? ''));
}

/** PostgreSQL undefined_column, MySQL/MariaDB ER_BAD_FIELD_ERROR, SQLite "no such column". */
export function isMissingColumn(error: unknown): boolean {
  for (const { code, errno } of errorChain(error)) {
    if (code === '42703' || code === 'ER_BAD_FIELD_ERROR' || errno === 1054) return true;
  }
  return /no such column/i.test(String((error as { message?: unknown } | null)?.message ?? ''));
}
