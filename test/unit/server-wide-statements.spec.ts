import { describe, expect, it } from 'vitest';
import { serverWideStatement } from '../../lib/check/sql/server-wide-statements.js';

describe('serverWideStatement: what a committed statement in a shadow on the live server must not do', () => {
  it.each([
    ['CREATE ROLE reporting', 'CREATE ROLE'],
    ["ALTER ROLE app PASSWORD 'x'", 'ALTER ROLE'],
    ['ALTER ROLE app SET work_mem = 1', 'ALTER ROLE … SET'],
    ['GRANT reporting TO app', 'GRANT / REVOKE of a role'],
    ['CREATE DATABASE other', 'CREATE DATABASE'],
    ['ALTER DATABASE live SET search_path = app', 'ALTER DATABASE … SET'],
    ['ALTER SYSTEM SET work_mem = 1', 'ALTER SYSTEM'],
    ["CREATE TABLESPACE fast LOCATION '/ssd'", 'CREATE TABLESPACE'],
    ["COMMENT ON DATABASE live IS 'x'", 'COMMENT on a database'],
    ['GRANT CONNECT ON DATABASE live TO app', 'GRANT / REVOKE on a database'],
    ['ALTER DATABASE live OWNER TO app', 'ALTER … OWNER on a database'],
    ['ALTER ROLE a RENAME TO b', 'RENAME on a role'],
    ['GRANT SET ON PARAMETER work_mem TO app', 'GRANT / REVOKE on a server parameter'],
    ['CREATE INDEX i ON t (c); DROP ROLE old', 'DROP ROLE'],
    ['DO $$ BEGIN EXECUTE $q$CREATE ROLE x$q$; END $$', 'a DO block, whose statements cannot be read before they run'],
    ['CREATE INDEX CONCURRENTLY i ON', expect.stringMatching(/parser cannot read/)],
  ])('%s: %s', async (sql, expected) => {
    expect(await serverWideStatement(sql)).toEqual(expected);
  });

  it.each([
    'CREATE INDEX CONCURRENTLY i ON t (c)',
    'VACUUM t',
    'ALTER TABLE t ADD COLUMN c int',
    "COMMENT ON TABLE t IS 'x'",
    'GRANT SELECT ON t TO app',
    'ALTER TABLE t RENAME TO u',
    "ALTER TYPE mood ADD VALUE 'meh'",
    'REINDEX INDEX CONCURRENTLY i',
  ])('%s stays inside its database', async (sql) => {
    expect(await serverWideStatement(sql)).toBeUndefined();
  });
});
