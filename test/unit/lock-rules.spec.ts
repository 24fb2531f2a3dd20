import { describe, expect, it } from 'vitest';
import { lockFindings, type CheckedStatement } from '../../lib/check/rules/lock-rules.js';
import { LARGE_TABLE } from '../../lib/check/table-size.js';
import { parseStatements } from '../../lib/check/sql/parse-sql.js';
import { statementActions } from '../../lib/check/sql/statement-actions.js';
import type { CatalogFacts, TableFacts } from '../../lib/check/table-facts.js';

async function statements(migration: string, ...sql: string[]): Promise<CheckedStatement[]> {
  const parsed = await Promise.all(
    sql.map(async (text) => (await parseStatements(text)).map((raw) => ({ migration, sql: text, ...statementActions(raw) }))),
  );
  return parsed.flat();
}

const VARCHAR = 1043;
const TEXT = 25;
const INT4 = 23;

function users(size: { rows?: number; bytes: number }): TableFacts {
  return {
    qualified: 'public.users',
    schema: 'public',
    name: 'users',
    rows: size.rows,
    bytes: size.bytes,
    checks: [],
    columns: new Map([
      ['name', { typeOid: VARCHAR, typmod: 54 }],
      ['age', { typeOid: INT4, typmod: -1 }],
      ['bio', { typeOid: TEXT, typmod: -1 }],
    ]),
  };
}

function facts(table: TableFacts | undefined): CatalogFacts {
  return {
    tables: new Map(table ? [['"users"', table]] : []),
    volatileFunctions: new Set(['gen_random_uuid']),
    types: new Map([
      ['"pg_catalog"."varchar"', VARCHAR],
      ['"text"', TEXT],
      ['"pg_catalog"."int8"', 20],
    ]),
    binaryCoercible: new Set([`${VARCHAR}->${TEXT}`, `${TEXT}->${VARCHAR}`]),
    invalidIndexes: new Map(),
  };
}

const context = (table: TableFacts | undefined, extra: { notNullChecked?: string[]; runLockTimeout?: boolean } = {}) => ({
  facts: facts(table),
  notNullChecked: new Set(extra.notNullChecked ?? []),
  runLockTimeout: extra.runLockTimeout ?? true,
});

describe('lock hazards graded by the table size the catalog gives (no database)', () => {
  it('what the shadow saw: a lock no action names is blocking-lock, and ACCESS EXCLUSIVE with no lock timeout is no-lock-timeout too; a created table is none', async () => {
    const table = users({ rows: 10, bytes: 8192 });
    const seenContext = {
      ...context(table, { runLockTimeout: false }),
      facts: {
        ...facts(table),
        tables: new Map([
          ['"users"', table],
          ['"public"."users"', table],
        ]),
      },
    };
    const [drop] = await statements('M', 'DROP INDEX users_name');
    expect(lockFindings([drop!], seenContext)).toEqual([]);
    const seen: CheckedStatement = {
      ...drop!,
      locks: [
        { schema: 'public', name: 'users', kind: 'table', mode: 'ACCESS EXCLUSIVE' },
        { schema: 'public', name: 'users_name', kind: 'index', mode: 'ACCESS EXCLUSIVE' },
      ],
    };
    expect(lockFindings([seen], seenContext).map((f) => `${f.severity} ${f.rule} ${f.table} ${f.lock}`)).toEqual([
      'warning blocking-lock public.users ACCESS EXCLUSIVE',
      'warning no-lock-timeout public.users ACCESS EXCLUSIVE',
    ]);
    const created: CheckedStatement = {
      ...seen,
      locks: [{ schema: 'public', name: 'users', kind: 'table', mode: 'ACCESS EXCLUSIVE', created: true }],
    };
    expect(lockFindings([created], seenContext)).toEqual([]);
  });

  it('by size: an empty table none; a small one a warning; LARGE_TABLE rows, or bytes when never analyzed, an error; a table not in the catalog (new) none', async () => {
    const index = await statements('M1', 'CREATE INDEX i ON users (name)');
    const severity = (table: TableFacts | undefined) => lockFindings(index, context(table)).map((finding) => finding.severity);
    expect(severity(users({ rows: 0, bytes: 0 }))).toEqual([]);
    expect(severity(users({ rows: undefined, bytes: 0 }))).toEqual([]);
    expect(severity(users({ rows: 10, bytes: 8192 }))).toEqual(['warning']);
    expect(severity(users({ rows: LARGE_TABLE.rows, bytes: 8192 }))).toEqual(['error']);
    expect(severity(users({ rows: undefined, bytes: LARGE_TABLE.bytes }))).toEqual(['error']);
    expect(severity(undefined)).toEqual([]);
  });

  it('type changes: widening a varchar or a binary-coercible cast keeps the table; narrowing, or another type, rewrites it', async () => {
    const rewrites = async (sql: string) =>
      lockFindings(await statements('M', sql), context(users({ rows: 10, bytes: 8192 }))).map((f) => f.rule);
    expect(await rewrites('ALTER TABLE users ALTER COLUMN name TYPE varchar(100)')).toEqual([]);
    expect(await rewrites('ALTER TABLE users ALTER COLUMN name TYPE varchar')).toEqual([]);
    expect(await rewrites('ALTER TABLE users ALTER COLUMN name TYPE text')).toEqual([]);
    expect(await rewrites('ALTER TABLE users ALTER COLUMN name TYPE varchar(20)')).toEqual(['table-rewrite']);
    expect(await rewrites('ALTER TABLE users ALTER COLUMN age TYPE bigint')).toEqual(['table-rewrite']);
    // A binary-coercible cast (text to varchar) that adds a length limit checks every row; without one it does not.
    expect(await rewrites('ALTER TABLE users ALTER COLUMN bio TYPE varchar(10)')).toEqual(['table-rewrite']);
    expect(await rewrites('ALTER TABLE users ALTER COLUMN bio TYPE varchar')).toEqual([]);
  });

  it('a type change with USING rewrites even between types a cast would keep', async () => {
    const rewrites = async (sql: string) =>
      lockFindings(await statements('M', sql), context(users({ rows: 10, bytes: 8192 }))).map((f) => f.rule);
    expect(await rewrites('ALTER TABLE users ALTER COLUMN name TYPE text USING lower(name)')).toEqual(['table-rewrite']);
  });

  it('SET NOT NULL: a scan unless the catalog has a validated IS NOT NULL check on that column', async () => {
    const setNotNull = await statements('M', 'ALTER TABLE users ALTER COLUMN name SET NOT NULL');
    const table = users({ rows: 10, bytes: 8192 });
    expect(lockFindings(setNotNull, context(table)).map((f) => f.rule)).toEqual(['set-not-null-scan']);
    expect(lockFindings(setNotNull, context(table, { notNullChecked: ['public.users|name'] }))).toEqual([]);
    expect(lockFindings(setNotNull, context(table, { notNullChecked: ['public.users|age'] })).map((f) => f.rule)).toEqual([
      'set-not-null-scan',
    ]);
  });

  it('no-lock-timeout: once per migration, on an ACCESS EXCLUSIVE lock of a live table, even an empty one; not after SET lock_timeout, not with the run’s', async () => {
    const empty = users({ rows: 0, bytes: 0 });
    const two = [
      ...(await statements('M1', 'ALTER TABLE users ADD COLUMN a int', 'ALTER TABLE users ADD COLUMN b int')),
      ...(await statements('M2', 'ALTER TABLE users DROP COLUMN a')),
    ];
    expect(lockFindings(two, context(empty, { runLockTimeout: false })).map((f) => [f.rule, f.migration, f.severity])).toEqual([
      ['no-lock-timeout', 'M1', 'warning'],
      ['no-lock-timeout', 'M2', 'warning'],
    ]);
    expect(lockFindings(two, context(empty))).toEqual([]);
    const set = await statements('M1', "SET lock_timeout = '1s'", 'ALTER TABLE users ADD COLUMN a int');
    expect(lockFindings(set, context(empty, { runLockTimeout: false }))).toEqual([]);
    const index = await statements('M1', 'CREATE INDEX i ON users (name)');
    expect(lockFindings(index, context(empty, { runLockTimeout: false }))).toEqual([]);
  });
});

describe('long-held-lock: a lock is held until its transaction ends, through the slow statements after it', () => {
  /** `sql` as statements of migrations in the transactions given (undefined: committed one by one). */
  async function inTransactions(...parts: Array<[migration: string, transaction: number | undefined, sql: string]>) {
    const all: CheckedStatement[] = [];
    for (const [migration, transaction, sql] of parts) {
      for (const statement of await statements(migration, sql))
        all.push(transaction === undefined ? statement : { ...statement, transaction });
    }
    return all;
  }
  const big = users({ rows: 300_000, bytes: 20 * 1024 * 1024 });
  const summary = (found: ReturnType<typeof lockFindings>) => found.map((f) => `${f.severity} ${f.rule} ${f.lock ?? '-'} ${f.statement}`);

  it('ADD COLUMN (quick, ACCESS EXCLUSIVE) then an UPDATE of every row in the same transaction: an error on the ADD COLUMN, naming the UPDATE and the size', async () => {
    const found = lockFindings(
      await inTransactions(
        ['M1', 0, 'ALTER TABLE users ADD COLUMN nick text'],
        ['M1', 0, 'UPDATE users SET nick = name WHERE nick IS NULL'],
      ),
      context(big),
    );
    expect(summary(found)).toEqual(['error long-held-lock ACCESS EXCLUSIVE ALTER TABLE users ADD COLUMN nick text']);
    expect(found[0]!.message).toMatch(
      /takes ACCESS EXCLUSIVE on public\.users and holds it until its transaction ends, which comes only after the UPDATE of every row of public\.users \(about 300,000 rows, 20\.0 MiB\) later in the same migration: public\.users stays locked that long, which blocks every read and write.*Commit in between/,
    );
  });

  it('a later migration in the same transaction (mode all) is named; a small table makes it a warning', async () => {
    const found = lockFindings(
      await inTransactions(['M1', 0, 'ALTER TABLE users ADD COLUMN nick text'], ['M2', 0, 'DELETE FROM users']),
      context(users({ rows: 50, bytes: 8192 })),
    );
    expect(summary(found)).toEqual(['warning long-held-lock ACCESS EXCLUSIVE ALTER TABLE users ADD COLUMN nick text']);
    expect(found[0]!.message).toMatch(
      /only after the DELETE of every row of public\.users \(about 50 rows, 8 KiB\) in M2, later in the same transaction/,
    );
  });

  it('none across transactions, without one (transaction = false), for an UPDATE with another WHERE, or when the slow statement is itself found on that table', async () => {
    const add = 'ALTER TABLE users ADD COLUMN nick text';
    const update = 'UPDATE users SET nick = name';
    expect(lockFindings(await inTransactions(['M1', 0, add], ['M2', 1, update]), context(big))).toEqual([]);
    expect(lockFindings(await inTransactions(['M1', undefined, add], ['M1', undefined, update]), context(big))).toEqual([]);
    expect(
      lockFindings(await inTransactions(['M1', 0, add], ['M1', 0, 'UPDATE users SET nick = name WHERE id = 5']), context(big)),
    ).toEqual([]);
    // The second index build is found itself (blocking-index on users): the first one's SHARE is not reported again.
    const twice = lockFindings(
      await inTransactions(['M1', 0, 'CREATE INDEX a ON users (name)'], ['M1', 0, 'CREATE INDEX b ON users (age)']),
      context(big),
    );
    expect(summary(twice)).toEqual([
      'error blocking-index SHARE CREATE INDEX a ON users (name)',
      'error blocking-index SHARE CREATE INDEX b ON users (age)',
    ]);
  });
});
