import { describe, expect, it } from 'vitest';
import { parseStatements } from '../../lib/check/sql/parse-sql.js';
import { statementActions, strongestLock, type StatementActions } from '../../lib/check/sql/statement-actions.js';

async function actionsOf(sql: string): Promise<StatementActions[]> {
  return (await parseStatements(sql)).map(statementActions);
}

async function one(sql: string) {
  const [statement] = await actionsOf(sql);
  return statement!;
}

describe("what a statement does to which table, read by PostgreSQL's parser (no database)", () => {
  it('row scans: UPDATE / DELETE with no WHERE or only IS [NOT] NULL tests, INSERT … SELECT from tables (joined too) without WHERE; another WHERE is none', async () => {
    expect((await one('UPDATE app.users SET nick = name WHERE nick IS NULL AND name IS NOT NULL')).scans).toEqual([
      { table: { schema: 'app', name: 'users' }, what: 'UPDATE' },
    ]);
    expect((await one('DELETE FROM users')).scans).toEqual([{ table: { name: 'users' }, what: 'DELETE' }]);
    expect((await one('INSERT INTO archive (id) SELECT u.id FROM users u JOIN orgs o ON o.id = u.org_id')).scans).toEqual([
      { table: { name: 'users' }, what: 'INSERT … SELECT' },
      { table: { name: 'orgs' }, what: 'INSERT … SELECT' },
    ]);
    expect((await one('UPDATE users SET nick = name WHERE id = 5')).scans).toBeUndefined();
    expect((await one("INSERT INTO archive (id) SELECT id FROM users WHERE created < '2020-01-01'")).scans).toBeUndefined();
    expect((await one('INSERT INTO archive (id) VALUES (1)')).scans).toBeUndefined();
  });

  it('indexes: the table, CONCURRENTLY and UNIQUE, the lock each takes, and the key columns when they are plain columns over every row', async () => {
    expect((await one('CREATE INDEX "IDX_1" ON "public"."users" ("email")')).actions).toEqual([
      {
        kind: 'create-index',
        table: { schema: 'public', name: 'users' },
        lock: 'SHARE',
        concurrent: false,
        unique: false,
        columns: ['email'],
        name: 'IDX_1',
        ifNotExists: false,
      },
    ]);
    expect((await one('CREATE UNIQUE INDEX CONCURRENTLY i ON users (email, tenant)')).actions).toEqual([
      {
        kind: 'create-index',
        table: { name: 'users' },
        lock: 'SHARE UPDATE EXCLUSIVE',
        concurrent: true,
        unique: true,
        columns: ['email', 'tenant'],
        name: 'i',
        ifNotExists: false,
      },
    ]);
    expect((await one('CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON users (email)')).actions[0]).toMatchObject({
      name: 'i',
      ifNotExists: true,
    });
    expect((await one('ALTER TABLE users ADD CONSTRAINT u UNIQUE USING INDEX i')).actions[0]).toMatchObject({
      usingIndex: true,
      indexName: 'i',
    });
    expect((await one('CREATE UNIQUE INDEX i ON users (lower(email))')).actions[0]).not.toHaveProperty('columns');
    expect((await one('CREATE UNIQUE INDEX i ON users (email) WHERE deleted_at IS NULL')).actions[0]).not.toHaveProperty('columns');
  });

  it('ALTER TABLE: one action per subcommand, with the column, and the strongest lock of the statement', async () => {
    const statement = await one(
      'ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid(), ALTER COLUMN age TYPE bigint, ALTER COLUMN name SET NOT NULL, ' +
        'ALTER COLUMN nick DROP DEFAULT, DROP COLUMN legacy, VALIDATE CONSTRAINT c',
    );
    expect(statement.actions.map((action) => [action.kind, 'column' in action ? action.column : undefined, action.lock])).toEqual([
      ['add-column', 'token', 'ACCESS EXCLUSIVE'],
      ['alter-column-type', 'age', 'ACCESS EXCLUSIVE'],
      ['set-not-null', 'name', 'ACCESS EXCLUSIVE'],
      ['drop-default', 'nick', 'ACCESS EXCLUSIVE'],
      ['drop-column', 'legacy', 'ACCESS EXCLUSIVE'],
      // VALIDATE alone takes SHARE UPDATE EXCLUSIVE; in one statement with the others, their ACCESS EXCLUSIVE.
      ['other', undefined, 'ACCESS EXCLUSIVE'],
    ]);
    expect(statement.actions[0]).toMatchObject({ notNull: true, hasDefault: true, defaultFunctions: ['gen_random_uuid'] });
    expect(statement.actions[1]).toMatchObject({ type: { names: ['pg_catalog', 'int8'], modifiers: [], array: false } });
    expect(strongestLock(statement.actions)).toBe('ACCESS EXCLUSIVE');
    expect(strongestLock((await one('ALTER TABLE users VALIDATE CONSTRAINT c')).actions)).toBe('SHARE UPDATE EXCLUSIVE');
  });

  it('added columns that rewrite whatever their functions: serial, identity, stored generated; a plain nullable column does not', async () => {
    expect((await one('ALTER TABLE t ADD COLUMN s bigserial')).actions[0]).toMatchObject({ rewrites: expect.stringMatching(/bigserial/) });
    expect((await one('ALTER TABLE t ADD COLUMN i int GENERATED ALWAYS AS IDENTITY')).actions[0]).toMatchObject({
      rewrites: expect.stringMatching(/identity/),
    });
    expect((await one('ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED')).actions[0]).toMatchObject({
      rewrites: expect.stringMatching(/generated/),
    });
    expect((await one('ALTER TABLE t ADD COLUMN n text')).actions[0]).toEqual({
      kind: 'add-column',
      table: { name: 't' },
      lock: 'ACCESS EXCLUSIVE',
      column: 'n',
      notNull: false,
      hasDefault: false,
      defaultFunctions: [],
    });
  });

  it('constraints: kind, NOT VALID, the referenced table, USING INDEX, the columns and the name; a dropped constraint by name', async () => {
    expect((await one('ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b_id) REFERENCES s.b (id)')).actions).toEqual([
      {
        kind: 'add-constraint',
        table: { name: 'a' },
        lock: 'SHARE ROW EXCLUSIVE',
        constraint: 'foreign-key',
        validated: true,
        references: { schema: 's', name: 'b' },
        usingIndex: false,
        columns: ['b_id'],
        referencedColumns: ['id'],
        name: 'f',
      },
    ]);
    expect((await one('ALTER TABLE a ADD CONSTRAINT c CHECK (x > 0 AND a.y IS NOT NULL) NOT VALID')).actions[0]).toMatchObject({
      constraint: 'check',
      validated: false,
      columns: ['x', 'y'],
    });
    expect((await one('ALTER TABLE a ADD CONSTRAINT u UNIQUE USING INDEX a_u')).actions[0]).toMatchObject({
      constraint: 'unique',
      usingIndex: true,
    });
    expect((await one('ALTER TABLE a ADD PRIMARY KEY (id, tenant)')).actions[0]).toMatchObject({ columns: ['id', 'tenant'] });
    expect((await one('ALTER TABLE a DROP CONSTRAINT "FK_1"')).actions).toEqual([
      { kind: 'drop-constraint', table: { name: 'a' }, lock: 'ACCESS EXCLUSIVE', name: 'FK_1' },
    ]);
  });

  it('renames and drops of tables and columns; ALTER INDEX and DROP INDEX are not table actions', async () => {
    expect((await one('ALTER TABLE users RENAME COLUMN nick TO nickname')).actions).toEqual([
      { kind: 'rename-column', table: { name: 'users' }, lock: 'ACCESS EXCLUSIVE', column: 'nick', to: 'nickname' },
    ]);
    expect((await one('ALTER TABLE users RENAME TO members')).actions).toEqual([
      { kind: 'rename-table', table: { name: 'users' }, lock: 'ACCESS EXCLUSIVE', to: 'members' },
    ]);
    expect((await one('DROP TABLE IF EXISTS a, s.b')).actions.map((action) => action.table)).toEqual([
      { name: 'a' },
      { schema: 's', name: 'b' },
    ]);
    expect((await one('ALTER INDEX i RENAME TO j')).actions).toEqual([]);
    expect((await one('DROP INDEX i')).actions).toEqual([]);
  });

  it('several statements in one query text are read apart; lock_timeout set, reset or left alone', async () => {
    const statements = await actionsOf(
      "SET LOCAL lock_timeout = '2s'; ALTER TABLE t ADD COLUMN x int; SET lock_timeout = 0; RESET lock_timeout; SET statement_timeout = 5",
    );
    expect(statements.map((statement) => statement.setsLockTimeout)).toEqual([true, undefined, false, false, undefined]);
    expect(statements[1]!.actions).toHaveLength(1);
  });

  it('one ALTER TABLE holds its strongest lock for every subcommand; USING or COLLATE marks a type change converted', async () => {
    const statement = await one(
      'ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES customers (id), ALTER COLUMN x SET DEFAULT 0',
    );
    expect(statement.actions.map((action) => action.lock)).toEqual(['ACCESS EXCLUSIVE', 'ACCESS EXCLUSIVE']);
    expect((await one('ALTER TABLE t ALTER COLUMN a TYPE text USING lower(a)')).actions[0]).toMatchObject({ type: { converted: true } });
    expect((await one('ALTER TABLE t ALTER COLUMN a TYPE text COLLATE "C"')).actions[0]).toMatchObject({ type: { converted: true } });
    expect((await one('ALTER TABLE t ALTER COLUMN a TYPE text')).actions[0]).not.toHaveProperty('type.converted');
  });

  it('what rewrites whatever its details, what locks, what cannot be read; a PostgreSQL 18 virtual column does not rewrite', async () => {
    expect((await one('ALTER TABLE t SET LOGGED')).actions).toEqual([
      { kind: 'rewrite', table: { name: 't' }, lock: 'ACCESS EXCLUSIVE', what: 'SetLogged' },
    ]);
    expect((await one('LOCK TABLE t IN ACCESS EXCLUSIVE MODE')).actions).toEqual([
      { kind: 'other', table: { name: 't' }, lock: 'ACCESS EXCLUSIVE', what: 'LOCK TABLE' },
    ]);
    expect(await one('DO $$ BEGIN ALTER TABLE t ADD COLUMN x int; END $$')).toEqual({
      actions: [],
      unreadable: expect.stringMatching(/DO block/),
    });
    expect((await one('ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a * 2) VIRTUAL')).actions[0]).not.toHaveProperty('rewrites');
  });

  it('a statement the parser cannot read rejects with its syntax error', async () => {
    await expect(parseStatements('CREATE INDEXX i ON t (a)')).rejects.toThrow(/syntax error/);
  });
});
