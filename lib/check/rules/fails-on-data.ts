import type { DataSource, QueryRunner } from 'typeorm';
import { quoteIdentifier } from '../../util/sql-identifier.js';
import type { CheckedStatement, CheckFinding } from '../check-finding.js';
import { liveActions } from './lock-rules.js';
import type { TableAction } from '../sql/statement-actions.js';
import { tableKey, type CatalogFacts, type TableFacts } from '../table-facts.js';
import { migration, type RuleDefinition } from './rule-definition.js';
import { isMysqlFamily } from '../../history/migrations-table.js';

export const failsOnData: RuleDefinition = {
  id: 'fails-on-data',
  family: 'data',
  severity: 'error',
  foundWhen:
    '`SET NOT NULL` on a column that holds NULL; a `NOT NULL` column added without a default to a table that has rows; a unique index or a unique or primary key constraint over values that repeat (a primary key also over NULLs); a foreign key added without `NOT VALID` over rows that reference no row of the referenced table. Asked of the live table by one read-only query each',
  hazard: 'the migration fails on the rows the live table holds now, in the middle of the deploy',
  instead:
    "fix the rows first (a data migration, in batches), or add the rule for new rows only (`CHECK … NOT VALID`, a foreign key `NOT VALID`) and validate it once today's rows satisfy it",
  mysql:
    "`MODIFY … NOT NULL` over NULLs, a unique index over repeated values, a foreign key added with `foreign_key_checks` on over rows that reference nothing; not a `NOT NULL` column added without a default (MySQL fills in the type's implicit default)",
  example: {
    unsafe: [migration('ALTER TABLE items ALTER COLUMN label SET NOT NULL')],
    safe: [migration('ALTER TABLE items ADD CONSTRAINT items_label_filled CHECK (label IS NOT NULL) NOT VALID')],
  },
};

/** How many offending rows a data check counts before it says "more than". */
const COUNT_UP_TO = 1_000;
/** A data check waits this long for its ACCESS SHARE lock, and reads for at most this long (ms). */
export const DATA_CHECK_LIMITS = { lockTimeoutMs: 2_000, statementTimeoutMs: 10_000 } as const;

/** One question to today's rows: the statement that would fail on them, and how to count those rows. */
interface DataQuestion {
  readonly statement: CheckedStatement;
  readonly action: TableAction;
  readonly facts: TableFacts;
  readonly column?: string;
  /** Counts the offending rows (up to COUNT_UP_TO + 1). */
  readonly sql: string;
  /** What fails, for `n` offending rows (a number, or "more than 1,000"). */
  readonly fails: (rows: string) => string;
}

/**
 * What an empty shadow cannot know and a dry run on the live database used to find by failing:
 * pending statements that will fail on today's rows. `SET NOT NULL` over rows holding NULL, a
 * `NOT NULL` column added without a default to a table with rows, a unique index or key over values
 * that repeat (a primary key also over NULLs), a foreign key checked now over rows that reference
 * nothing. Each is answered by a read-only query on the live
 * table (ACCESS SHARE; a short lock timeout and a statement timeout, in one transaction that writes
 * nothing); one that cannot be answered in time is skipped. Only columns that existed before the
 * pending run, on live tables.
 */
export async function dataFindings(
  dataSource: DataSource,
  statements: readonly CheckedStatement[],
  facts: CatalogFacts,
): Promise<CheckFinding[]> {
  const dialect = isMysqlFamily(dataSource) ? MYSQL : POSTGRES;
  const questions = liveActions(statements, facts).flatMap((actions, index) =>
    actions.flatMap((action) => {
      const table = facts.tables.get(tableKey(action.table))!;
      const question = questionOf(statements[index]!, action, table, facts, dialect);
      return question ? [question] : [];
    }),
  );
  if (questions.length === 0) return [];
  const findings: CheckFinding[] = [];
  const session = dataSource.createQueryRunner('master');
  try {
    const ask = await dialect.open(session);
    for (const question of questions) {
      const rows = await ask(question.sql);
      if (!rows) continue;
      const count = rows > COUNT_UP_TO ? `more than ${COUNT_UP_TO.toLocaleString('en-US')}` : rows.toLocaleString('en-US');
      findings.push({
        rule: 'fails-on-data',
        severity: 'error',
        migration: question.statement.migration,
        statement: question.statement.sql,
        table: question.facts.qualified,
        ...(question.column ? { column: question.column } : {}),
        lock: question.action.lock,
        message: `${question.statement.migration}: ${question.fails(count)}, read from the live table now; the migration will fail there.`,
      });
    }
  } finally {
    if (session.isTransactionActive) await session.rollbackTransaction().catch(() => undefined);
    await session.release();
  }
  return findings;
}

/** How a database is asked: its quoting, its count, and a read-only session with short limits. */
interface DataDialect {
  readonly quote: (name: string) => string;
  readonly table: (facts: TableFacts) => string;
  readonly count: string;
  /** Whether adding a NOT NULL column without a default fails on a table with rows (MySQL fills the type's implicit default). */
  readonly addNotNullFails: boolean;
  /** Opens the session's read-only questions: each returns the count, or undefined when not answered in time. */
  readonly open: (session: QueryRunner) => Promise<(sql: string) => Promise<number | undefined>>;
}

/**
 * PostgreSQL: one transaction that writes nothing, `lock_timeout` and `statement_timeout` for it
 * (behind a transaction-mode pooler too), a savepoint per question so that one not answered in
 * time does not stop the others.
 */
const POSTGRES: DataDialect = {
  quote: quoteIdentifier,
  table: (facts) => facts.qualified,
  count: 'count(*)::int',
  addNotNullFails: true,
  open: async (session) => {
    await session.startTransaction();
    await session.query(`SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)`, [
      String(DATA_CHECK_LIMITS.lockTimeoutMs),
      String(DATA_CHECK_LIMITS.statementTimeoutMs),
    ]);
    return async (sql) => {
      await session.query('SAVEPOINT data_check');
      try {
        const [row] = (await session.query(sql)) as Array<{ n: number }>;
        await session.query('RELEASE SAVEPOINT data_check');
        return Number(row?.n ?? 0);
      } catch {
        // Not answered in time (or not at all): no finding from it.
        await session.query('ROLLBACK TO SAVEPOINT data_check');
        return undefined;
      }
    };
  },
};

/**
 * MySQL/MariaDB: each question alone, its limits on the statement itself (MariaDB's `SET STATEMENT
 * … FOR`, MySQL's optimizer hints), so that nothing is left set on a pooled session: the metadata
 * lock waited for at most DATA_CHECK_LIMITS.lockTimeoutMs (an ALTER running there holds it), the
 * read at most statementTimeoutMs.
 */
const MYSQL: DataDialect = {
  quote: (name) => `\`${name.replaceAll('`', '``')}\``,
  table: (facts) => `\`${facts.schema.replaceAll('`', '``')}\`.\`${facts.name.replaceAll('`', '``')}\``,
  count: 'count(*)',
  addNotNullFails: false,
  open: async (session) => {
    const [row] = (await session.query('SELECT VERSION() AS version')) as Array<{ version: string }>;
    const lockSeconds = Math.ceil(DATA_CHECK_LIMITS.lockTimeoutMs / 1000);
    const limited = /mariadb/i.test(String(row?.version))
      ? (sql: string) =>
          `SET STATEMENT lock_wait_timeout = ${lockSeconds}, max_statement_time = ${DATA_CHECK_LIMITS.statementTimeoutMs / 1000} FOR ${sql}`
      : (sql: string) =>
          sql.replace(
            /^SELECT/,
            `SELECT /*+ MAX_EXECUTION_TIME(${DATA_CHECK_LIMITS.statementTimeoutMs}) SET_VAR(lock_wait_timeout = ${lockSeconds}) */`,
          );
    return async (sql) => {
      try {
        const [answer] = (await session.query(limited(sql))) as Array<{ n: number | string }>;
        return Number(answer?.n ?? 0);
      } catch {
        // Not answered in time (or not at all): no finding from it.
        return undefined;
      }
    };
  },
};

function questionOf(
  statement: CheckedStatement,
  action: TableAction,
  facts: TableFacts,
  catalog: CatalogFacts,
  dialect: DataDialect,
): DataQuestion | undefined {
  const table = dialect.table(facts);
  const quoteIdentifier = dialect.quote;
  const existing = (columns: readonly string[]) => columns.length > 0 && columns.every((column) => facts.columns.has(column));
  const limited = (rows: string) => `SELECT ${dialect.count} AS n FROM (${rows} LIMIT ${COUNT_UP_TO + 1}) AS offending`;
  const at = { statement, action, facts };
  switch (action.kind) {
    case 'set-not-null': {
      if (!existing([action.column])) return undefined;
      const column = quoteIdentifier(action.column);
      return {
        ...at,
        column: action.column,
        sql: limited(`SELECT 1 FROM ${table} WHERE ${column} IS NULL`),
        fails: (rows) => `SET NOT NULL on "${action.column}": ${rows} row(s) of ${facts.qualified} hold NULL there`,
      };
    }
    case 'add-column':
      if (!action.notNull || action.hasDefault || !dialect.addNotNullFails) return undefined;
      return {
        ...at,
        column: action.column,
        sql: limited(`SELECT 1 FROM ${table}`),
        fails: (rows) =>
          `"${action.column}" is added NOT NULL without a default, and ${facts.qualified} has ${rows} row(s), which would hold NULL`,
      };
    case 'create-index':
      if (!action.unique || !action.columns) return undefined;
      return uniqueQuestion(at, action.columns, false);
    case 'add-constraint':
      if (action.constraint === 'foreign-key') return foreignKeyQuestion(action);
      if ((action.constraint !== 'unique' && action.constraint !== 'primary-key') || action.usingIndex) return undefined;
      return uniqueQuestion(at, action.columns, action.constraint === 'primary-key');
    default:
      return undefined;
  }

  /** A foreign key checked now (not NOT VALID) over existing columns, to a live table and named columns: rows with no match. */
  function foreignKeyQuestion(constraint: Extract<TableAction, { kind: 'add-constraint' }>): DataQuestion | undefined {
    const referenced = constraint.references ? catalog.tables.get(tableKey(constraint.references)) : undefined;
    const targets = constraint.referencedColumns ?? [];
    if (!constraint.validated || !referenced || targets.length !== constraint.columns.length || !existing(constraint.columns))
      return undefined;
    if (!targets.every((column) => referenced.columns.has(column))) return undefined;
    const set = constraint.columns.map((column) => `t.${quoteIdentifier(column)} IS NOT NULL`).join(' AND ');
    const match = constraint.columns.map((column, i) => `r.${quoteIdentifier(targets[i]!)} = t.${quoteIdentifier(column)}`).join(' AND ');
    const named = constraint.columns.map((column) => `"${column}"`).join(', ');
    return {
      ...at,
      ...(constraint.columns.length === 1 ? { column: constraint.columns[0] } : {}),
      sql: limited(
        `SELECT 1 FROM ${table} AS t WHERE ${set} AND NOT EXISTS (SELECT 1 FROM ${dialect.table(referenced)} AS r WHERE ${match})`,
      ),
      fails: (rows) => `the foreign key on ${named}: ${rows} row(s) of ${facts.qualified} reference no row of ${referenced.qualified}`,
    };
  }

  function uniqueQuestion(base: typeof at, columns: readonly string[], primary: boolean): DataQuestion | undefined {
    if (!existing(columns)) return undefined;
    const list = columns.map(quoteIdentifier).join(', ');
    const named = columns.map((column) => `"${column}"`).join(', ');
    const repeated = `SELECT 1 FROM ${table} WHERE ${columns.map((column) => `${quoteIdentifier(column)} IS NOT NULL`).join(' AND ')} GROUP BY ${list} HAVING count(*) > 1`;
    const nulls = `SELECT 1 FROM ${table} WHERE ${columns.map((column) => `${quoteIdentifier(column)} IS NULL`).join(' OR ')}`;
    return {
      ...base,
      ...(columns.length === 1 ? { column: columns[0] } : {}),
      sql: limited(primary ? `${repeated} UNION ALL ${nulls}` : repeated),
      fails: (rows) =>
        primary
          ? `the primary key on ${named}: ${rows} value(s) of ${facts.qualified} repeat or are NULL`
          : `the unique ${action.kind === 'create-index' ? 'index' : 'constraint'} on ${named}: ${rows} value(s) of ${facts.qualified} appear more than once`,
    };
  }
}
