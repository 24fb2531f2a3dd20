import { expect, it } from 'vitest';
import { DataSource, TableColumn } from 'typeorm';
import { AutoMigratorService, type BuildSnapshot, type DeployCheckResult } from '../../lib/index.js';
import { describeEachDatabase, type DatabaseFixture } from '../support/database-suite.js';
import { createMariadbLoginUser } from '../support/databases.js';
import { defineMigration, sql, type MigrationClass } from '../support/migrations.js';
import { bootApp } from '../support/test-app.js';
import { userEntity } from '../support/user-entity.js';

const CreateUsers = defineMigration(
  'CreateUsers1700000000001',
  sql(
    'CREATE TABLE orgs (id INT PRIMARY KEY) ENGINE=InnoDB',
    'CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50), nickname VARCHAR(50), age INT, org_id INT, note TEXT) ENGINE=InnoDB',
  ),
);

const lockTimeout = { migrationTimeouts: { lockTimeoutMs: 5000 } };
const rulesOf = (result: DeployCheckResult) => result.findings.map((finding) => `${finding.severity} ${finding.rule}`);

/** The live table's columns, as the server describes them. */
async function columnsOf(t: DatabaseFixture, table: string): Promise<string[]> {
  const rows = (await t.db.query(
    `SELECT CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE) AS c FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '${table}' ORDER BY ORDINAL_POSITION`,
  )) as Array<{ c: string }>;
  return rows.map((row) => row.c);
}

describeEachDatabase(
  'check on MySQL/MariaDB: the server asked on a copy of the live schema',
  (t) => {
    /** Applies CreateUsers with `rows` rows in users (analyzed), and returns the previous release's snapshot mapping `columns`. */
    async function live(rows: number, columns: Parameters<typeof userEntity>[0] = ['name', 'nickname', 'age']): Promise<BuildSnapshot> {
      const app = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [CreateUsers], options: { entities: [userEntity(columns)] } }],
          migrator: { runMigrations: true },
        }),
      );
      if (rows > 0) {
        await t.db.query('INSERT INTO orgs (id) VALUES (1)');
        await t.db.query(
          `INSERT INTO users (id, name, nickname, age, org_id) SELECT seq, CONCAT('user ', seq), 'nick', seq % 90, 1 FROM seq_1_to_${rows}`,
        );
        await t.db.query('ANALYZE TABLE users');
      }
      return app.app.get(AutoMigratorService).snapshot({ build: 'v1' });
    }

    async function check(pending: MigrationClass[], snapshot?: BuildSnapshot, migrator: Record<string, unknown> = lockTimeout) {
      const app = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [CreateUsers, ...pending] }],
          migrator: { runMigrations: false, ...migrator },
        }),
      );
      const [result] = await app.app.get(AutoMigratorService).check(snapshot ? { snapshot } : {});
      return result!;
    }

    it("the issue's case: dropping a mapped column and widening int to bigint on a 100,000-row table are errors; the live table keeps both; a nullable column added is instant and clean", async () => {
      const snapshot = await live(100_000);
      const Breaking = defineMigration(
        'Breaking1700000000002',
        sql('ALTER TABLE `users` DROP COLUMN `nickname`', 'ALTER TABLE `users` MODIFY `age` BIGINT NULL'),
      );
      const result = await check([Breaking], snapshot);
      expect(result.checked).toEqual(['Breaking1700000000002']);
      expect(result.unchecked).toEqual([]);
      expect(result.findings).toEqual([
        expect.objectContaining({
          rule: 'drop-column',
          severity: 'error',
          column: 'nickname',
          table: `${t.db.name}.users`,
          statement: 'ALTER TABLE `users` DROP COLUMN `nickname`',
          lock: 'metadata lock (exclusive, brief); ALGORITHM=INSTANT',
        }),
        expect.objectContaining({ rule: 'change-column-type', severity: 'error', column: 'age' }),
        expect.objectContaining({
          rule: 'table-rewrite',
          severity: 'error',
          column: 'age',
          statement: 'ALTER TABLE `users` MODIFY `age` BIGINT NULL',
          lock: 'LOCK=SHARED for the whole copy; ALGORITHM=COPY',
          message: expect.stringMatching(
            /copies .*users \(about [\d,]+ rows, .*Cannot change column type.*Add a column of the new type.*gh-ost/,
          ),
        }),
      ]);
      expect(await columnsOf(t, 'users')).toEqual(
        expect.arrayContaining(['nickname varchar(50)', expect.stringMatching(/^age int(\(11\))?$/)]),
      );

      const Safe = defineMigration('Safe1700000000002', sql('ALTER TABLE `users` ADD `nickname_v2` varchar(80) NULL'));
      const safe = await check([Safe], snapshot);
      expect(safe).toMatchObject({ findings: [], checked: ['Safe1700000000002'], unchecked: [] });
      expect(await columnsOf(t, 'users')).not.toContain('nickname_v2 varchar(80)');
    });

    it('what the server answers, by statement: an index built without blocking writes and dropped are nothing; a rebuild in place a warning; a FULLTEXT index blocks writes; a foreign key copies unless foreign_key_checks = 0', async () => {
      await live(50);
      const Online = defineMigration(
        'Online1700000000002',
        sql('CREATE INDEX users_age ON users (age)', 'DROP INDEX users_age ON users', 'ALTER TABLE users RENAME COLUMN note TO remark'),
      );
      expect(await check([Online])).toMatchObject({ findings: [], checked: ['Online1700000000002'], unchecked: [] });

      const Rebuild = defineMigration('Rebuild1700000000002', sql('ALTER TABLE users FORCE'));
      const rebuild = await check([Rebuild]);
      expect(rulesOf(rebuild)).toEqual(['warning table-rewrite']);
      expect(rebuild.findings[0]!.message).toMatch(/rebuilds .*users \(about 50 rows.*in place.*NOCOPY is not supported.*writes go on/);

      const Fulltext = defineMigration('Fulltext1700000000002', sql('CREATE FULLTEXT INDEX users_note ON users (note)'));
      const fulltext = await check([Fulltext]);
      expect(rulesOf(fulltext)).toEqual(['warning blocking-lock']);
      expect(fulltext.findings[0]).toMatchObject({ lock: 'LOCK=SHARED for the whole statement; ALGORITHM=INPLACE' });

      const ForeignKey = defineMigration(
        'ForeignKey1700000000002',
        sql('ALTER TABLE users ADD CONSTRAINT users_org FOREIGN KEY (org_id) REFERENCES orgs (id)'),
      );
      const foreignKey = await check([ForeignKey]);
      expect(rulesOf(foreignKey)).toEqual(['warning table-rewrite']);
      expect(foreignKey.findings[0]!.message).toMatch(/foreign_key_checks=OFF.*SET foreign_key_checks = 0 before it/);
      const Unchecked = defineMigration(
        'ForeignKeyInPlace1700000000002',
        sql(
          'SET foreign_key_checks = 0',
          'ALTER TABLE users ADD CONSTRAINT users_org FOREIGN KEY (org_id) REFERENCES orgs (id)',
          'SET foreign_key_checks = 1',
        ),
      );
      expect(await check([Unchecked])).toMatchObject({ findings: [], checked: ['ForeignKeyInPlace1700000000002'] });
      expect(
        await t.db.query(`SELECT CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()`),
      ).toEqual([]);
    });

    it('no-lock-timeout: an ALTER on a live table with lock_wait_timeout at its default is a warning, once per migration; none when the migration or the run sets it', async () => {
      await live(0);
      const Add = defineMigration(
        'Add1700000000002',
        sql('ALTER TABLE users ADD COLUMN a INT NULL', 'ALTER TABLE users ADD COLUMN b INT NULL'),
      );
      const bare = await check([Add], undefined, {});
      expect(bare.findings).toEqual([
        expect.objectContaining({
          rule: 'no-lock-timeout',
          severity: 'warning',
          statement: 'ALTER TABLE users ADD COLUMN a INT NULL',
          message: expect.stringMatching(/exclusive metadata lock on .*users with lock_wait_timeout at its default/),
        }),
      ]);
      const Limited = defineMigration(
        'Limited1700000000002',
        sql('SET SESSION lock_wait_timeout = 5', 'ALTER TABLE users ADD COLUMN a INT NULL'),
      );
      expect((await check([Limited], undefined, {})).findings).toEqual([]);
      expect((await check([Add])).findings).toEqual([]);
    });

    it("compatibility from the shadow's catalog: TypeORM's changeColumn drops the column and adds it again (drop-column); renames; NOT NULL without a default", async () => {
      const snapshot = await live(10);
      const Change = defineMigration('Change1700000000002', async (queryRunner) => {
        await queryRunner.changeColumn(
          'users',
          'nickname',
          new TableColumn({ name: 'nickname', type: 'varchar', length: '80', isNullable: true }),
        );
      });
      const change = await check([Change], snapshot);
      expect(change.findings.map((finding) => [finding.rule, finding.column])).toEqual([['drop-column', 'nickname']]);
      expect(change.findings[0]!.statement).toMatch(/DROP COLUMN `nickname`/);

      const Renames = defineMigration(
        'Renames1700000000002',
        sql(
          'ALTER TABLE users CHANGE name full_name VARCHAR(50)',
          'ALTER TABLE users ADD COLUMN code INT NOT NULL',
          'RENAME TABLE users TO people',
        ),
      );
      const renames = await check([Renames], snapshot);
      expect(renames.findings.map((finding) => [finding.rule, finding.column ?? finding.table])).toEqual([
        ['rename-column', 'name'],
        ['add-not-null', 'code'],
        ['rename-table', `${t.db.name}.users`],
      ]);
      expect(await t.db.tables()).toContain('users');
    });

    it("fails-on-data: today's rows read on the live table: a unique index over repeated values, NOT NULL over NULLs, a foreign key to rows that are not there; none where the rows satisfy it", async () => {
      await live(10);
      const Failing = defineMigration(
        'Failing1700000000002',
        sql(
          'CREATE UNIQUE INDEX users_nick ON users (nickname)',
          'ALTER TABLE users MODIFY note TEXT NOT NULL',
          'ALTER TABLE users ADD CONSTRAINT users_age_org FOREIGN KEY (age) REFERENCES orgs (id)',
        ),
      );
      const failing = await check([Failing]);
      expect(
        failing.findings.filter((finding) => finding.rule === 'fails-on-data').map((finding) => [finding.column, finding.message]),
      ).toEqual([
        [
          'nickname',
          expect.stringMatching(
            /the unique index on "nickname": 1 value\(s\) of .*users appear more than once, read from the live table now/,
          ),
        ],
        ['note', expect.stringMatching(/"note": 10 row\(s\) of .*users hold NULL there/)],
        ['age', expect.stringMatching(/the foreign key on "age": 9 row\(s\) of .*users reference no row of .*orgs/)],
      ]);
      const Satisfied = defineMigration(
        'Satisfied1700000000002',
        sql(
          'CREATE UNIQUE INDEX users_name ON users (name)',
          'ALTER TABLE users MODIFY name VARCHAR(50) NOT NULL',
          'ALTER TABLE users ADD CONSTRAINT users_org FOREIGN KEY (org_id) REFERENCES orgs (id)',
        ),
      );
      expect((await check([Satisfied])).findings.filter((finding) => finding.rule === 'fails-on-data')).toEqual([]);
    });

    it("the dry run's deadline: the statement running in the shadow is killed (KILL QUERY) and the plan stops, saying so", async () => {
      await live(0);
      const Slow = defineMigration('Slow1700000000002', sql('SELECT SUM(seq) FROM seq_1_to_100000000000 WHERE seq % 7 = 3'));
      const app = t.track(
        await bootApp({ dataSources: [{ db: t.db, migrations: [CreateUsers, Slow] }], migrator: { runMigrations: false } }),
      );
      const started = Date.now();
      const [plan] = await app.app.get(AutoMigratorService).plan({ timeoutMs: 1000 });
      expect(plan).toMatchObject({
        complete: false,
        migrations: [{ name: 'Slow1700000000002', error: expect.stringMatching(/deadline of 1000 ms ran out/) }],
      });
      expect(Date.now() - started).toBeLessThan(15_000);
    });

    it('a temporary shadow: a user who cannot create a database is told to give one (nothing runs); a stale shadow of a killed run is dropped, one in use is not', async () => {
      await live(0);
      const Add = defineMigration('Add1700000000002', sql('ALTER TABLE users ADD COLUMN a INT NULL'));
      const user = await createMariadbLoginUser(t.db, 'limited-pw');
      const limited = await bootApp({
        dataSources: [{ db: t.db, migrations: [CreateUsers, Add], options: { url: user.url } as Record<string, unknown> }],
        migrator: { runMigrations: false },
      });
      try {
        const refused = limited.app.get(AutoMigratorService).check();
        await expect(refused).rejects.toThrow(
          /the live user cannot create one .*give an empty database as the shadow \(--shadow-url <url>, or SHADOW_DATABASE_URL\)/,
        );
        await expect(refused).rejects.not.toThrow(/limited-pw/);
      } finally {
        await limited.close();
        await user.drop();
      }

      // Named as the library names them, created 20 minutes ago: one left by a killed run, one whose session still holds its lock.
      const old = (Date.now() - 20 * 60_000).toString(36);
      const stale = `auto_migrator_shadow_${old}_1_aaaaaa`;
      const inUse = `auto_migrator_shadow_${old}_2_bbbbbb`;
      await t.db.query(`CREATE DATABASE \`${stale}\``);
      await t.db.query(`CREATE DATABASE \`${inUse}\``);
      const holder = t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [CreateUsers] }], migrator: { runMigrations: false } }));
      const runner = holder.app.get(DataSource).createQueryRunner();
      try {
        await runner.query('SELECT GET_LOCK(?, 0) AS held', [inUse]);
        expect((await check([Add])).checked).toEqual(['Add1700000000002']);
        const left = (await t.db.query(
          `SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('${stale}', '${inUse}')`,
        )) as Array<{ name: string }>;
        expect(left.map((row) => row.name)).toEqual([inUse]);
      } finally {
        await runner.release();
        await t.db.query(`DROP DATABASE IF EXISTS \`${stale}\``);
        await t.db.query(`DROP DATABASE IF EXISTS \`${inUse}\``);
      }
    });

    it('plan shows how the server runs each statement on a live table', async () => {
      await live(0);
      const Mixed = defineMigration(
        'Mixed1700000000002',
        sql('ALTER TABLE users ADD COLUMN a INT NULL', 'ALTER TABLE users MODIFY age BIGINT'),
      );
      const app = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [CreateUsers, Mixed] }],
          migrator: { runMigrations: false, ...lockTimeout },
        }),
      );
      const [plan] = await app.app.get(AutoMigratorService).plan();
      expect(plan!.migrations[0]!.statements.map((statement) => statement.mysql?.algorithm)).toEqual(['instant', 'copy']);
    });
  },
  ['mariadb'],
);
