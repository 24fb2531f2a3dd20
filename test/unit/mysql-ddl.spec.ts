import { describe, expect, it } from 'vitest';
import { mysqlDdl, setsMysqlLockTimeout } from '../../lib/check/sql/mysql-ddl.js';
import { keepsValues, mysqlTableChanges, type MysqlColumn, type MysqlTablesState } from '../../lib/check/sql/mysql-table-changes.js';

describe('MySQL DDL as the probe reads it (no database)', () => {
  it('the tables a statement changes, a qualified name by its last part, and a rename by both names', () => {
    expect(mysqlDdl('ALTER TABLE `users` ADD `a` int NULL')).toMatchObject({ kind: 'alter-table', tables: ['users'] });
    expect(mysqlDdl('alter online ignore table if exists app.`users` drop column x')).toMatchObject({ tables: ['users'] });
    expect(mysqlDdl('ALTER TABLE users RENAME TO people')).toMatchObject({ tables: ['users', 'people'] });
    expect(mysqlDdl('ALTER TABLE users RENAME COLUMN a TO b, RENAME INDEX i TO j')).toMatchObject({ tables: ['users'] });
    expect(mysqlDdl('CREATE UNIQUE INDEX `IDX_1` ON `users` (`email`)')).toMatchObject({ kind: 'create-index', tables: ['users'] });
    expect(mysqlDdl('DROP INDEX IF EXISTS `IDX_1` ON `users`')).toMatchObject({ kind: 'drop-index', tables: ['users'] });
    expect(mysqlDdl('DROP TABLE IF EXISTS a, `b`')).toMatchObject({ kind: 'drop-table', tables: ['a', 'b'] });
    expect(mysqlDdl('RENAME TABLE a TO b, c TO d')).toMatchObject({ kind: 'rename-table', tables: ['a', 'b', 'c', 'd'] });
    expect(mysqlDdl('CREATE TABLE IF NOT EXISTS t (id int)')).toMatchObject({ kind: 'create-table', tables: ['t'] });
    for (const other of [
      'INSERT INTO users VALUES (1)',
      'SET foreign_key_checks = 0',
      'CREATE VIEW v AS SELECT 1',
      '/* ALTER TABLE x */ SELECT 1',
    ])
      expect(mysqlDdl(other)).toBeUndefined();
  });

  it('the clause is added to the statement itself (after a newline: a trailing comment ends there); DROP INDEX as ALTER TABLE', () => {
    expect(mysqlDdl('ALTER TABLE users ADD a int; ')!.withClause!('INSTANT')).toBe('ALTER TABLE users ADD a int\n, ALGORITHM=INSTANT');
    expect(mysqlDdl('ALTER TABLE users FORCE -- rebuild')!.withClause!('INPLACE', 'NONE')).toBe(
      'ALTER TABLE users FORCE -- rebuild\n, ALGORITHM=INPLACE, LOCK=NONE',
    );
    expect(mysqlDdl('CREATE INDEX i ON users (a)')!.withClause!('NOCOPY', 'NONE')).toBe(
      'CREATE INDEX i ON users (a)\nALGORITHM=NOCOPY LOCK=NONE',
    );
    expect(mysqlDdl('DROP INDEX `i` ON `users`')!.withClause!('INSTANT')).toBe('ALTER TABLE `users` DROP INDEX `i`, ALGORITHM=INSTANT');
  });

  it("a statement's own ALGORITHM / LOCK is taken at its word: no clause is added", () => {
    expect(mysqlDdl('ALTER TABLE users ADD a int, ALGORITHM = COPY, LOCK=SHARED')).toMatchObject({
      declared: { algorithm: 'COPY', lock: 'SHARED' },
    });
    expect(mysqlDdl('ALTER TABLE users ADD a int, ALGORITHM = COPY')!.withClause).toBeUndefined();
    expect(mysqlDdl("ALTER TABLE users ADD a varchar(9) DEFAULT 'ALGORITHM=COPY'")!.declared).toBeUndefined();
  });

  it('what limits the metadata lock wait', () => {
    expect(setsMysqlLockTimeout('SET SESSION lock_wait_timeout = 5')).toBe(true);
    expect(setsMysqlLockTimeout('SET @@session.lock_wait_timeout=5')).toBe(true);
    expect(setsMysqlLockTimeout('SET lock_wait_timeout = 5, innodb_lock_wait_timeout = 5')).toBe(true);
    expect(setsMysqlLockTimeout('SET innodb_lock_wait_timeout = 5')).toBe(false);
    expect(setsMysqlLockTimeout('ALTER TABLE users ADD a int')).toBe(false);
  });
});

const column = (name: string, position: number, type: string, more: Partial<MysqlColumn> = {}): MysqlColumn => ({
  table: 'users',
  name,
  position,
  type,
  nullable: true,
  default: null,
  generated: false,
  collation: type.startsWith('varchar') ? 'utf8mb4_general_ci' : null,
  ...more,
});

/** The tables' state with only these columns. */
const only = (columns: readonly MysqlColumn[]): MysqlTablesState => ({ columns, indexes: [], foreignKeys: [] });

describe("what a MySQL statement did, from the shadow's columns before and after it (no database)", () => {
  const before = [column('id', 1, 'int(11)', { nullable: false }), column('nickname', 2, 'varchar(50)'), column('age', 3, 'int(11)')];

  it('a column gone is dropped; one appearing at its position with its type is a rename; a new one is added', () => {
    const dropped = mysqlTableChanges(['users'], only(before), only([before[0]!, before[2]!]));
    expect(dropped).toEqual([expect.objectContaining({ kind: 'drop-column', column: 'nickname' })]);
    const renamed = mysqlTableChanges(['users'], only(before), only([before[0]!, column('nick', 2, 'varchar(50)'), before[2]!]));
    expect(renamed).toEqual([expect.objectContaining({ kind: 'rename-column', column: 'nickname', to: 'nick' })]);
    const added = mysqlTableChanges(['users'], only(before), only([...before, column('code', 4, 'int(11)', { nullable: false })]));
    expect(added).toEqual([expect.objectContaining({ kind: 'add-column', column: 'code', notNull: true, hasDefault: false })]);
  });

  it('a type change that keeps every value (a wider varchar, a bigger text) is none; int to bigint is one; NOT NULL and a dropped default are read', () => {
    expect(keepsValues(column('a', 1, 'varchar(50)'), column('a', 1, 'varchar(80)'))).toBe(true);
    expect(keepsValues(column('a', 1, 'varchar(80)'), column('a', 1, 'varchar(50)'))).toBe(false);
    expect(keepsValues(column('a', 1, 'text'), column('a', 1, 'mediumtext'))).toBe(true);
    expect(keepsValues(column('a', 1, 'varchar(50)'), column('a', 1, 'varchar(80)', { collation: 'utf8mb4_bin' }))).toBe(false);
    const changed = mysqlTableChanges(
      ['users'],
      only(before),
      only([before[0]!, column('nickname', 2, 'varchar(80)', { nullable: false }), column('age', 3, 'bigint(20)')]),
    );
    expect(changed.map((change) => `${change.kind} ${'column' in change ? change.column : ''}`)).toEqual([
      'set-not-null nickname',
      'alter-column-type age',
    ]);
    const withDefault = [column('v', 1, 'int(11)', { default: '0' })];
    expect(mysqlTableChanges(['users'], only(withDefault), only([column('v', 1, 'int(11)', { default: 'NULL' })]))).toEqual([
      expect.objectContaining({ kind: 'drop-default', column: 'v' }),
    ]);
  });

  it('a new unique index is read with its columns (a prefix index without them), a new foreign key as checked or not by the session', () => {
    const indexed: MysqlTablesState = {
      columns: before,
      indexes: [
        { table: 'users', name: 'PRIMARY', unique: true, columns: ['id'], partial: false },
        { table: 'users', name: 'users_nick', unique: true, columns: ['nickname'], partial: false },
        { table: 'users', name: 'users_age', unique: false, columns: ['age'], partial: false },
      ],
      foreignKeys: [{ table: 'users', name: 'users_org', columns: ['age'], references: 'orgs', referencedColumns: ['id'] }],
    };
    expect(mysqlTableChanges(['users'], { ...only(before), indexes: [indexed.indexes[0]!] }, indexed, false)).toEqual([
      expect.objectContaining({ kind: 'create-index', unique: true, columns: ['nickname'], name: 'users_nick' }),
      expect.objectContaining({ kind: 'add-constraint', constraint: 'foreign-key', validated: false, references: { name: 'orgs' } }),
    ]);
    const prefix = { ...indexed, indexes: [{ ...indexed.indexes[1]!, partial: true }], foreignKeys: [] };
    expect(mysqlTableChanges(['users'], only(before), prefix)).toEqual([expect.not.objectContaining({ columns: expect.anything() })]);
  });

  it('a table gone is dropped, or renamed when a table the statement names appeared with its columns', () => {
    expect(mysqlTableChanges(['users'], only(before), only([]))).toEqual([
      expect.objectContaining({ kind: 'drop-table', table: { name: 'users' } }),
    ]);
    const people = before.map((one) => ({ ...one, table: 'people' }));
    expect(mysqlTableChanges(['users', 'people'], only(before), only(people))).toEqual([
      expect.objectContaining({ kind: 'rename-table', table: { name: 'users' }, to: 'people' }),
    ]);
  });
});
