import { expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { compareSchemas, readSchemaCatalog } from '../../lib/check/replay/schema-catalog.js';
import { copyMysqlSchema } from '../../lib/check/shadow/mysql-schema-copy.js';
import { mysqlServerWideCheck } from '../../lib/check/sql/server-wide-statements.js';
import { describeEachDatabase } from '../support/database-suite.js';
import { createTestDatabase } from '../support/databases.js';

/** A schema with what real MySQL histories hold, and what they seldom do. */
const SCHEMA = [
  'CREATE TABLE orgs (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, UNIQUE KEY orgs_name (name)) ENGINE=InnoDB',
  `CREATE TABLE users (
     id BIGINT AUTO_INCREMENT PRIMARY KEY, org_id INT NULL, email VARCHAR(120) NOT NULL, nickname VARCHAR(40) COLLATE utf8mb4_bin NULL,
     status ENUM('active', 'gone') NOT NULL DEFAULT 'active', created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
     settings JSON NULL, email_domain VARCHAR(120) AS (SUBSTRING_INDEX(email, '@', -1)) STORED,
     CONSTRAINT users_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE SET NULL,
     CONSTRAINT users_email_length CHECK (CHAR_LENGTH(email) > 3),
     KEY users_org_status (org_id, status), KEY users_email_prefix (email(10)), FULLTEXT KEY users_nickname_text (nickname)
   ) ENGINE=InnoDB`,
  // A foreign key to a table the copy creates after it (by name): the copy runs with the checks off.
  'CREATE TABLE zones (id INT PRIMARY KEY)',
  'CREATE TABLE audit (id INT PRIMARY KEY, zone_id INT, CONSTRAINT audit_zone FOREIGN KEY (zone_id) REFERENCES zones (id))',
  'INSERT INTO orgs (name) VALUES (1), (2), (3)',
  'CREATE VIEW active_users AS SELECT id, email FROM users WHERE status = "active"',
  // A view over a view whose name sorts before it.
  'CREATE VIEW a_active_emails AS SELECT email FROM active_users',
  `CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW BEGIN SET NEW.created_at = OLD.created_at; END`,
  'CREATE FUNCTION domain_of(address VARCHAR(120)) RETURNS VARCHAR(120) DETERMINISTIC RETURN SUBSTRING_INDEX(address, "@", -1)',
  'CREATE PROCEDURE purge_gone() BEGIN DELETE FROM users WHERE status = "gone"; END',
];

describeEachDatabase(
  "the shadow's copy of a MySQL/MariaDB schema",
  (t) => {
    it('tables (foreign keys in any order, checks, generated and JSON columns, prefix and full-text indexes), views over views, triggers and routines: the copy is the live schema object by object', async () => {
      for (const statement of SCHEMA) await t.db.query(statement);
      const target = await createTestDatabase('mariadb');
      const live = await new DataSource({ type: 'mariadb', url: t.db.url }).initialize();
      const shadow = await new DataSource({ type: 'mariadb', url: target.url }).initialize();
      const liveRunner = live.createQueryRunner();
      const shadowRunner = shadow.createQueryRunner();
      try {
        // A trigger that would write to the live database from the shadow (its body names it bare).
        await t.db.query(
          `CREATE TRIGGER orgs_mirror AFTER INSERT ON orgs FOR EACH ROW INSERT INTO ${t.db.name}.zones (id) VALUES (NEW.id)`,
        );
        const copy = await copyMysqlSchema(liveRunner, shadowRunner, await mysqlServerWideCheck(shadowRunner));
        expect(copy).toEqual({
          tables: 4,
          views: 2,
          triggers: 1,
          routines: 2,
          skipped: [`trigger orgs_mirror: it has a name in database "${t.db.name}", outside the shadow`],
        });
        await t.db.query('DROP TRIGGER orgs_mirror');
        const [source, copied] = [await readSchemaCatalog(liveRunner), await readSchemaCatalog(shadowRunner)];
        expect(source.length).toBeGreaterThan(25);
        expect(compareSchemas(source, copied, new Set())).toEqual([]);
        // The comparison sees what a copy would miss.
        await target.query('DROP TRIGGER users_touch');
        await target.query('ALTER TABLE users DROP INDEX users_email_prefix');
        expect(compareSchemas(source, await readSchemaCatalog(shadowRunner), new Set()).map((d) => `${d.change} ${d.kind}`)).toEqual([
          'added index',
          'added trigger',
        ]);
        // No rows, and the counters start again.
        expect(await target.query('SELECT COUNT(*) AS n FROM orgs')).toEqual([{ n: 0 }]);
      } finally {
        await liveRunner.release();
        await shadowRunner.release();
        await live.destroy();
        await shadow.destroy();
        await target.drop();
      }
    });
  },
  ['mariadb'],
);
