import { expect, it } from 'vitest';
import { RULES } from '../../lib/check/rules/registry.js';
import { AutoMigratorService, type BuildSnapshot, type DeployCheckResult } from '../../lib/index.js';
import { describeEachDatabase, type DatabaseFixture } from '../support/database-suite.js';
import { createPostgresLoginRole, postgresAdminQuery } from '../support/databases.js';
import { defineMigration, sql, type MigrationClass } from '../support/migrations.js';
import { bootApp } from '../support/test-app.js';
import { userEntity } from '../support/user-entity.js';

const CreateUsers = defineMigration(
  'CreateUsers1700000000001',
  sql(
    'CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50), nickname VARCHAR(50), age INT, org_id INT)',
    'CREATE TABLE orgs (id INT PRIMARY KEY)',
  ),
);

/** Applies CreateUsers, puts `rows` rows in users (once per test) (then ANALYZE when `analyze`), and checks `pending` with the module off. */
async function check(
  t: DatabaseFixture,
  pending: MigrationClass[],
  options: { rows?: number; analyze?: boolean; migrator?: Record<string, unknown> } = {},
): Promise<DeployCheckResult> {
  t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [CreateUsers] }], migrator: { runMigrations: true } }));
  if (options.rows) {
    await t.db.query(`INSERT INTO orgs (id) VALUES (1)`);
    await t.db.query(
      `INSERT INTO users (id, name, age, org_id) SELECT g, 'user ' || g, g % 90, 1 FROM generate_series(1, ${options.rows}) AS g`,
    );
    if (options.analyze) await t.db.query('ANALYZE users');
  }
  const app = t.track(
    await bootApp({
      dataSources: [{ db: t.db, migrations: [CreateUsers, ...pending] }],
      migrator: { runMigrations: false, ...options.migrator },
    }),
  );
  const [result] = await app.app.get(AutoMigratorService).check();
  return result!;
}

const rulesOf = (result: DeployCheckResult) => result.findings.map((finding) => `${finding.severity} ${finding.rule}`);

describeEachDatabase(
  'check: the pending migrations against the live tables',
  (t) => {
    const timeout = { migrator: { migrationTimeouts: { lockTimeoutMs: 5000 } } };

    it('blocking-index: CREATE INDEX on a table with rows is found, naming the table, its size and the lock; CONCURRENTLY (transaction = false, run committed in the shadow) is checked and not found', async () => {
      const Index = defineMigration('IndexName1700000000002', sql('CREATE INDEX users_name ON users (name)'));
      const result = await check(t, [Index], { rows: 50, ...timeout });
      expect(result.checked).toEqual(['IndexName1700000000002']);
      expect(result.findings).toEqual([
        {
          rule: 'blocking-index',
          severity: 'warning',
          migration: 'IndexName1700000000002',
          statement: 'CREATE INDEX users_name ON users (name)',
          table: 'public.users',
          lock: 'SHARE',
          message: expect.stringMatching(
            /(about [\d,]+ rows, 8 KiB; never analyzed: the planner's estimate from its size|about 50 rows, 8 KiB)\) holds SHARE .* blocks INSERT, UPDATE and DELETE .*CREATE INDEX CONCURRENTLY .*transaction = false/,
          ),
        },
      ]);
      const Concurrently = defineMigration('IndexConcurrently1700000000002', sql('CREATE INDEX CONCURRENTLY users_name ON users (name)'), {
        transaction: false,
      });
      const safe = await check(t, [Concurrently], timeout);
      expect(safe).toMatchObject({ findings: [], checked: ['IndexConcurrently1700000000002'], unchecked: [] });
    });

    it('a table as big as LARGE_TABLE (analyzed: its row estimate) makes it an error; an empty table or one created by the pending migrations, nothing', async () => {
      const Index = defineMigration('IndexAge1700000000002', sql('CREATE INDEX users_age ON users (age)'));
      const big = await check(t, [Index], { rows: 100_000, analyze: true, ...timeout });
      expect(rulesOf(big)).toEqual(['error blocking-index']);
      expect(big.findings[0]!.message).toMatch(/about 100,000 rows, \d+\.\d MiB/);
      const onEmpty = defineMigration('IndexEmpty1700000000003', sql('CREATE INDEX users_org ON users (org_id)'));
      const NewTable = defineMigration(
        'NewTable1700000000004',
        sql('CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)', 'CREATE INDEX notes_body ON notes (body)'),
      );
      await t.db.query('TRUNCATE users');
      const empty = await check(t, [onEmpty, NewTable], timeout);
      expect(empty.findings).toEqual([]);
      expect(empty.checked).toEqual(['IndexEmpty1700000000003', 'NewTable1700000000004']);
    });

    it('unvalidated-constraint: a foreign key or check added without NOT VALID; with NOT VALID then VALIDATE, nothing', async () => {
      const Fk = defineMigration(
        'OrgFk1700000000002',
        sql('ALTER TABLE users ADD CONSTRAINT users_org FOREIGN KEY (org_id) REFERENCES orgs (id)'),
      );
      const Check = defineMigration('AgeCheck1700000000003', sql('ALTER TABLE users ADD CONSTRAINT users_age CHECK (age >= 0)'));
      const result = await check(t, [Fk, Check], { rows: 10, ...timeout });
      expect(result.findings.map((f) => [f.rule, f.migration, f.lock])).toEqual([
        ['unvalidated-constraint', 'OrgFk1700000000002', 'SHARE ROW EXCLUSIVE'],
        ['unvalidated-constraint', 'AgeCheck1700000000003', 'ACCESS EXCLUSIVE'],
      ]);
      expect(result.findings[0]!.message).toMatch(/locks the referenced table "orgs" too\)\. Add it NOT VALID/);
      const Safe = defineMigration(
        'OrgFkNotValid1700000000002',
        sql(
          'ALTER TABLE users ADD CONSTRAINT users_org FOREIGN KEY (org_id) REFERENCES orgs (id) NOT VALID',
          'ALTER TABLE users ADD CONSTRAINT users_age CHECK (age >= 0) NOT VALID',
        ),
      );
      const Validate = defineMigration('Validate1700000000003', sql('ALTER TABLE users VALIDATE CONSTRAINT users_org'));
      expect((await check(t, [Safe, Validate], timeout)).findings).toEqual([]);
    });

    it('table-rewrite: a type change that rewrites, a volatile default; not a widened varchar, a binary-coercible cast or a stable default', async () => {
      const Retype = defineMigration('AgeBigint1700000000002', sql('ALTER TABLE users ALTER COLUMN age TYPE bigint'));
      const Volatile = defineMigration('Token1700000000003', sql('ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid()'));
      const Serial = defineMigration('Seq1700000000004', sql('ALTER TABLE users ADD COLUMN seq serial'));
      const result = await check(t, [Retype, Volatile, Serial], { rows: 10, ...timeout });
      expect(result.findings.map((f) => [f.rule, f.column])).toEqual([
        ['table-rewrite', 'age'],
        ['table-rewrite', 'token'],
        ['table-rewrite', 'seq'],
      ]);
      expect(result.findings[1]!.message).toMatch(/its default calls gen_random_uuid, which is volatile/);
      const Safe = defineMigration(
        'Safe1700000000002',
        sql(
          'ALTER TABLE users ALTER COLUMN name TYPE varchar(200)',
          'ALTER TABLE users ALTER COLUMN name TYPE text',
          'ALTER TABLE users ADD COLUMN created timestamptz DEFAULT now()',
          'ALTER TABLE users ADD COLUMN note text',
        ),
      );
      expect((await check(t, [Safe], timeout)).findings).toEqual([]);
    });

    it('set-not-null-scan: SET NOT NULL scans; after a validated CHECK (col IS NOT NULL) it does not', async () => {
      const NotNull = defineMigration('NameNotNull1700000000002', sql('ALTER TABLE users ALTER COLUMN name SET NOT NULL'));
      expect(rulesOf(await check(t, [NotNull], { rows: 10, ...timeout }))).toEqual(['warning set-not-null-scan']);
      await t.db.query('ALTER TABLE users ADD CONSTRAINT name_present CHECK (name IS NOT NULL)');
      const Again = defineMigration('NameNotNull1700000000003', sql('ALTER TABLE users ALTER COLUMN name SET NOT NULL'));
      expect((await check(t, [Again], timeout)).findings).toEqual([]);
    });

    it('no-lock-timeout: an ACCESS EXCLUSIVE lock on a live table with no lock timeout is a warning, once per migration; lockTimeoutMs or SET lock_timeout in the migration clears it', async () => {
      const AddColumns = defineMigration(
        'AddColumns1700000000002',
        sql('ALTER TABLE users ADD COLUMN a text', 'ALTER TABLE users ADD COLUMN b text'),
      );
      const result = await check(t, [AddColumns]);
      expect(result.findings.map((f) => [f.severity, f.rule, f.table, f.lock])).toEqual([
        ['warning', 'no-lock-timeout', 'public.users', 'ACCESS EXCLUSIVE'],
      ]);
      expect(result.findings[0]!.message).toMatch(/migrationTimeouts\.lockTimeoutMs/);
      expect((await check(t, [AddColumns], timeout)).findings).toEqual([]);
      const WithSet = defineMigration(
        'AddColumns1700000000003',
        sql("SET LOCAL lock_timeout = '3s'", 'ALTER TABLE users ADD COLUMN c text'),
      );
      expect((await check(t, [WithSet])).findings).toEqual([]);
    });

    it('leaks no secret: a statement quoting the password comes back redacted', async () => {
      const password = 'Sup3r-secret-pw';
      const login = await createPostgresLoginRole(t.db, password);
      // check creates its temporary shadow database as this role.
      await postgresAdminQuery(`ALTER ROLE ${login.role} CREATEDB`);
      try {
        const Quoting = defineMigration('Quoting1700000000002', sql(`ALTER TABLE users ADD COLUMN note text DEFAULT '${password}'`));
        const app = t.track(
          await bootApp({
            dataSources: [{ db: t.db, migrations: [CreateUsers, Quoting], options: { url: login.url } as never }],
            migrator: { runMigrations: false },
          }),
        );
        t.track(
          await bootApp({
            dataSources: [{ db: t.db, migrations: [CreateUsers], options: { url: login.url } as never }],
            migrator: { runMigrations: true },
          }),
        );
        await t.db.query(`INSERT INTO users (id) VALUES (1)`);
        const [result] = await app.app.get(AutoMigratorService).check();
        const text = JSON.stringify(result);
        expect(result!.checked).toEqual(['Quoting1700000000002']);
        expect(result!.findings.map((f) => f.rule)).toEqual(['no-lock-timeout']);
        expect(text).not.toContain(password);
        expect(text).toContain('DEFAULT');
        await app.close();
      } finally {
        // The role owns the database: hand it back before dropping the role.
        await t.db.query(`REASSIGN OWNED BY ${login.role} TO CURRENT_USER; DROP OWNED BY ${login.role}`);
        await login.drop();
      }
    });

    it('a partitioned table is as big as its partitions; a table renamed by a pending migration is still the live table; a DO block is not checked', async () => {
      t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [CreateUsers] }], migrator: { runMigrations: true } }));
      await t.db.query('CREATE TABLE events (id int, at date) PARTITION BY RANGE (at)');
      await t.db.query("CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')");
      await t.db.query("INSERT INTO events SELECT g, '2026-06-01' FROM generate_series(1, 100) AS g");
      await t.db.query("INSERT INTO users (id, name) VALUES (1, 'ada')");
      const OnParent = defineMigration('EventsIndex1700000000002', sql('CREATE INDEX events_id ON events (id)'));
      const Renamed = defineMigration(
        'Rename1700000000003',
        sql('ALTER TABLE users RENAME TO accounts', 'CREATE INDEX accounts_name ON accounts (name)'),
      );
      const Opaque = defineMigration(
        'Opaque1700000000004',
        sql('DO $$ BEGIN EXECUTE $q$CREATE INDEX accounts_age ON accounts (age)$q$; END $$'),
      );
      const app = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [CreateUsers, OnParent, Renamed, Opaque] }],
          migrator: { runMigrations: false, migrationTimeouts: { lockTimeoutMs: 5000 } },
        }),
      );
      const [result] = await app.app.get(AutoMigratorService).check();
      expect(result!.findings.map((f) => [f.rule, f.migration, f.table])).toEqual([
        ['blocking-index', 'EventsIndex1700000000002', 'public.events'],
        ['blocking-index', 'Rename1700000000003', 'public.users'],
      ]);
      expect(result!.checked).toEqual(['EventsIndex1700000000002', 'Rename1700000000003']);
      // The dry run already stops at the DO block's END (see plan); were it run, the parser's reading is 'a DO block'.
      expect(result!.unchecked).toEqual([
        { migration: 'Opaque1700000000004', reason: expect.stringMatching(/DO block|ends the transaction/) },
      ]);
    });

    it('writes nothing: the checked migrations stay pending and their tables absent', async () => {
      const Index = defineMigration(
        'IndexName1700000000002',
        sql('CREATE TABLE audit (id INT)', 'CREATE INDEX users_name ON users (name)'),
      );
      await check(t, [Index], { rows: 5 });
      expect(await t.db.recorded()).toEqual(['CreateUsers1700000000001']);
      expect(await t.db.tables()).not.toContain('audit');
      expect(await t.db.query(`SELECT indexname FROM pg_indexes WHERE indexname = 'users_name'`)).toEqual([]);
    });
  },
  ['postgres'],
);

describeEachDatabase(
  'check: accepted findings, plan, and the option deployCheck at boot',
  (t) => {
    const Index = defineMigration('IndexName1700000000002', sql('CREATE INDEX users_name ON users (name)'));

    async function seeded(rows: number): Promise<void> {
      t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [CreateUsers] }], migrator: { runMigrations: true } }));
      await t.db.query(`INSERT INTO users (id, name) SELECT g, 'user ' || g FROM generate_series(1, ${rows}) AS g`);
      await t.db.query('ANALYZE users');
    }

    it("a migration's static acceptedFindings marks the finding accepted with its reason; it no longer fails; a bad declaration names the migration", async () => {
      await seeded(100_000);
      const Accepted = defineMigration('IndexName1700000000002', sql('CREATE INDEX users_name ON users (name)'));
      Object.assign(Accepted, {
        acceptedFindings: [{ rule: 'blocking-index', table: 'users', reason: 'maintenance window, writes stopped' }],
      });
      const app = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [CreateUsers, Accepted] }],
          migrator: { runMigrations: false, migrationTimeouts: { lockTimeoutMs: 5000 } },
        }),
      );
      const [result] = await app.app.get(AutoMigratorService).check();
      expect(result!.findings.map((f) => [f.severity, f.rule, f.accepted])).toEqual([
        ['error', 'blocking-index', { reason: 'maintenance window, writes stopped' }],
      ]);
      const Bad = defineMigration('IndexName1700000000002', sql('CREATE INDEX users_name ON users (name)'));
      Object.assign(Bad, { acceptedFindings: [{ rule: 'blocking-indexes', reason: 'typo' }] });
      const badApp = t.track(
        await bootApp({ dataSources: [{ db: t.db, migrations: [CreateUsers, Bad] }], migrator: { runMigrations: false } }),
      );
      await expect(badApp.app.get(AutoMigratorService).check()).rejects.toThrow(
        /Migration "IndexName1700000000002": static acceptedFindings \[0\] names no rule \(rule: "blocking-indexes"\)/,
      );
    });

    it('plan shows the findings beside the SQL', async () => {
      await seeded(10);
      const app = t.track(
        await bootApp({ dataSources: [{ db: t.db, migrations: [CreateUsers, Index] }], migrator: { runMigrations: false } }),
      );
      const [plan] = await app.app.get(AutoMigratorService).plan();
      expect(plan!.findings?.map((f) => [f.severity, f.rule])).toEqual([['warning', 'blocking-index']]);
    });

    it("deployCheck 'fail': an error-level finding refuses to migrate, nothing runs, readiness says why; 'warn' logs it and migrates", async () => {
      await seeded(100_000);
      const refused = bootApp({
        dataSources: [{ db: t.db, migrations: [CreateUsers, Index] }],
        migrator: { runMigrations: true, deployCheck: 'fail', migrationTimeouts: { lockTimeoutMs: 5000 } },
      });
      await expect(refused).rejects.toThrow(
        /the deploy check refused the pending migrations \(deployCheck: 'fail'\), nothing ran: blocking-index in IndexName1700000000002 on public\.users/,
      );
      expect(await t.db.recorded()).toEqual(['CreateUsers1700000000001']);

      const background = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [CreateUsers, Index] }],
          migrator: { runMigrations: true, mode: 'background', deployCheck: 'fail', migrationTimeouts: { lockTimeoutMs: 5000 } },
        }),
      );
      const service = background.app.get(AutoMigratorService);
      await service.whenFinished();
      const readiness = await service.getReadiness();
      expect(readiness.ready).toBe(false);
      expect(JSON.stringify(readiness)).toMatch(/DeployCheck|deploy check refused/);
      await background.close();

      const warned = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [CreateUsers, Index] }],
          migrator: { runMigrations: true, deployCheck: 'warn', migrationTimeouts: { lockTimeoutMs: 5000 } },
        }),
      );
      expect(warned.logger.text()).toMatch(
        /deploy check: error blocking-index on public\.users: IndexName1700000000002: Building the index/,
      );
      expect(await t.db.recorded()).toEqual(['CreateUsers1700000000001', 'IndexName1700000000002']);
    });

    it('deployCheck with a snapshot file that does not exist refuses the run naming the option and the file', async () => {
      const boot = bootApp({
        dataSources: [{ db: t.db, migrations: [CreateUsers] }],
        migrator: { runMigrations: true, deployCheck: { mode: 'warn', snapshot: 'no/such/release.json' } },
      });
      await expect(boot).rejects.toThrow(/option "deployCheck\.snapshot": no\/such\/release\.json could not be read/);
      expect(await t.db.recorded()).toEqual([]);
    });
  },
  ['postgres'],
);

describeEachDatabase(
  'check --snapshot: what the previous release still maps',
  (t) => {
    /** The previous release: its snapshot, taken from an app whose entity maps `columns` of users. */
    async function previousRelease(columns: Parameters<typeof userEntity>[0]): Promise<BuildSnapshot> {
      const app = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [CreateUsers], options: { entities: [userEntity(columns)] } }],
          migrator: { runMigrations: true },
        }),
      );
      return app.app.get(AutoMigratorService).snapshot({ build: 'v1' });
    }

    async function checkAgainst(snapshot: BuildSnapshot, pending: MigrationClass[]): Promise<DeployCheckResult> {
      const app = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [CreateUsers, ...pending] }],
          migrator: { runMigrations: false, migrationTimeouts: { lockTimeoutMs: 5000 } },
        }),
      );
      const [result] = await app.app.get(AutoMigratorService).check({ snapshot });
      return result!;
    }

    it('snapshot: each mapped table with its columns as the database names them, and the newest migration', async () => {
      const snapshot = await previousRelease(['name', 'nickname']);
      expect(snapshot).toEqual({
        format: 'nestjs-auto-migrator/snapshot@1',
        build: 'v1',
        createdAt: expect.any(String),
        dataSources: [
          {
            dataSource: 'default',
            newestMigration: 'CreateUsers1700000000001',
            tables: [
              {
                table: 'users',
                entities: ['User'],
                columns: [
                  { name: 'id', type: 'integer', nullable: false, generated: false },
                  { name: 'name', type: 'character varying', nullable: true, generated: false },
                  { name: 'nickname', type: 'character varying', nullable: true, generated: false },
                ],
              },
            ],
          },
        ],
      });
    });

    it('every change that breaks the mapped table and columns is an error naming the build; what the old release does not map is not', async () => {
      const snapshot = await previousRelease(['name', 'nickname', 'age']);
      const Breaking = defineMigration(
        'Breaking1700000000002',
        sql(
          'ALTER TABLE users DROP COLUMN nickname',
          'ALTER TABLE users RENAME COLUMN name TO full_name',
          'ALTER TABLE users ALTER COLUMN age TYPE bigint',
          'ALTER TABLE users ADD COLUMN email text NOT NULL',
          'ALTER TABLE users DROP COLUMN org_id',
        ),
      );
      const result = await checkAgainst(snapshot, [Breaking]);
      const compat = result.findings.filter((f) => f.rule !== 'table-rewrite');
      expect(compat.map((f) => [f.severity, f.rule, f.column])).toEqual([
        ['error', 'drop-column', 'nickname'],
        ['error', 'rename-column', 'name'],
        ['error', 'change-column-type', 'age'],
        ['error', 'add-not-null', 'email'],
      ]);
      expect(compat[0]!.message).toMatch(
        /the previous release \(build v1\) maps public\.users \(User\), with "nickname": its pods fail .*two releases/,
      );
      expect(result.previousRelease).toEqual({ build: 'v1', newestMigration: 'CreateUsers1700000000001', mapsThisDataSource: true });
    });

    it('SET NOT NULL on a column the old release maps as nullable, dropping the table, a new check constraint', async () => {
      const snapshot = await previousRelease(['name']);
      const NotNull = defineMigration('NameNotNull1700000000002', sql('ALTER TABLE users ALTER COLUMN name SET NOT NULL'));
      expect((await checkAgainst(snapshot, [NotNull])).findings.map((f) => f.rule)).toEqual(['add-not-null']);
      const Check = defineMigration('NameCheck1700000000002', sql("ALTER TABLE users ADD CONSTRAINT named CHECK (name <> '') NOT VALID"));
      expect((await checkAgainst(snapshot, [Check])).findings.map((f) => [f.severity, f.rule])).toEqual([['warning', 'add-constraint']]);
      const Drop = defineMigration('DropUsers1700000000002', sql('DROP TABLE users'));
      expect((await checkAgainst(snapshot, [Drop])).findings.map((f) => [f.severity, f.rule, f.table])).toEqual([
        ['error', 'drop-table', 'public.users'],
      ]);
    });

    it('add-constraint only over columns the previous release writes: not on a column added in the same migration, not on a column it does not map, not a constraint dropped and re-created; the message names the columns', async () => {
      const snapshot = await previousRelease(['name', 'org_id']);
      const OnNew = defineMigration(
        'OrgRef1700000000002',
        sql(
          'ALTER TABLE users ADD COLUMN team_id INT',
          'ALTER TABLE users ADD CONSTRAINT users_team FOREIGN KEY (team_id) REFERENCES orgs (id) NOT VALID',
          'ALTER TABLE users ADD CONSTRAINT users_age CHECK (age >= 0) NOT VALID',
        ),
      );
      expect((await checkAgainst(snapshot, [OnNew])).findings).toEqual([]);
      await t.db.query('ALTER TABLE users ADD CONSTRAINT users_org FOREIGN KEY (org_id) REFERENCES orgs (id) NOT VALID');
      const Recreated = defineMigration(
        'OrgFkAgain1700000000002',
        sql(
          'ALTER TABLE users DROP CONSTRAINT users_org',
          'ALTER TABLE users ADD CONSTRAINT users_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE NOT VALID',
        ),
      );
      expect((await checkAgainst(snapshot, [Recreated])).findings.map((f) => f.rule)).not.toContain('add-constraint');
      const Named = defineMigration(
        'NameLong1700000000002',
        sql('ALTER TABLE users ADD CONSTRAINT name_long CHECK (length(name) > 2) NOT VALID'),
      );
      const [finding] = (await checkAgainst(snapshot, [Named])).findings;
      expect(finding).toMatchObject({ rule: 'add-constraint', column: 'name' });
      expect(finding!.message).toMatch(
        /adds a check constraint on "name" to public\.users, which the previous release \(build v1\) writes \(its \w+ map it\): its writes may violate it/,
      );
    });

    it('a migration that drops a mapped column and then fails keeps its drop-column finding, and is listed with its error', async () => {
      const snapshot = await previousRelease(['name', 'nickname']);
      const DropThenFail = defineMigration(
        'DropThenFail1700000000002',
        sql('ALTER TABLE users DROP COLUMN nickname', 'SELECT * FROM no_such_table'),
      );
      const result = await checkAgainst(snapshot, [DropThenFail]);
      expect(result.findings.map((f) => [f.rule, f.column])).toEqual([['drop-column', 'nickname']]);
      expect(result.checked).toEqual([]);
      expect(result.unchecked).toEqual([
        { migration: 'DropThenFail1700000000002', reason: expect.stringMatching(/the dry run could not run it: .*no_such_table/) },
      ]);
    });

    it('changes to what the previous release does not map, and the safe forms of those it does, are no finding of these rules', async () => {
      const snapshot = await previousRelease(['name']);
      const Safe = defineMigration(
        'Safe1700000000002',
        sql(
          'ALTER TABLE users RENAME COLUMN nickname TO handle',
          'ALTER TABLE users ALTER COLUMN age TYPE bigint',
          'ALTER TABLE users ALTER COLUMN org_id SET NOT NULL',
          "ALTER TABLE users ADD COLUMN email text NOT NULL DEFAULT ''",
          'ALTER TABLE users ADD COLUMN bio text',
          'ALTER TABLE users ALTER COLUMN name TYPE varchar(100)',
        ),
      );
      const result = await checkAgainst(snapshot, [Safe]);
      const compatibility = new Set<string>(RULES.filter((rule) => rule.family === 'compatibility').map((rule) => rule.id));
      // name is mapped, but widening a varchar keeps every value as the old release reads and writes it.
      expect(result.findings.filter((f) => compatibility.has(f.rule))).toEqual([]);
      expect(result.checked).toEqual(['Safe1700000000002']);
    });

    it('the contract step of expand/contract: once the previous release no longer maps the column, dropping it is no finding', async () => {
      const snapshot = await previousRelease(['name']);
      const Contract = defineMigration('DropNickname1700000000002', sql('ALTER TABLE users DROP COLUMN nickname'));
      const result = await checkAgainst(snapshot, [Contract]);
      expect(result.findings).toEqual([]);
      expect(result.checked).toEqual(['DropNickname1700000000002']);
    });
  },
  ['postgres'],
);

describeEachDatabase(
  'runningBuilds: each booting build records what it maps; check holds the migrations against the builds seen',
  (t) => {
    const DropNickname = defineMigration('DropNickname1700000000002', sql('ALTER TABLE users DROP COLUMN nickname'));

    it('one row per build, whatever the boots (first and last seen); check finds the recorded build that maps the column, and not once it is out of the window', async () => {
      const boot = async () =>
        t.track(
          await bootApp({
            dataSources: [{ db: t.db, migrations: [CreateUsers], options: { entities: [userEntity(['name', 'nickname'])] } }],
            migrator: { runMigrations: true, runningBuilds: { label: 'v1' } },
          }),
        );
      await (await boot()).close();
      await (await boot()).close();
      const rows = await t.db.query<{ id: string; label: string; seen_twice: boolean }>(
        'SELECT id, label, last_seen > first_seen AS seen_twice FROM auto_migrator_builds',
      );
      expect(rows).toEqual([{ id: expect.stringMatching(/^[0-9a-f]{16}$/), label: 'v1', seen_twice: true }]);

      // The next release: no entity maps nickname any more; its pending migration drops it while v1 may still run.
      const next = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [CreateUsers, DropNickname], options: { entities: [userEntity(['name'])] } }],
          migrator: { runMigrations: false, runningBuilds: true, migrationTimeouts: { lockTimeoutMs: 5000 } },
        }),
      );
      const service = next.app.get(AutoMigratorService);
      const [result] = await service.check();
      expect(result!.findings.map((f) => [f.severity, f.rule, f.column])).toEqual([['error', 'drop-column', 'nickname']]);
      expect(result!.findings[0]!.message).toMatch(
        new RegExp(`the running build ${rows[0]!.id} \\(v1\\), last booted .*, maps public\\.users \\(User\\)`),
      );
      expect(result!.runningBuilds).toHaveLength(1);
      // Not asked: none of it.
      expect((await service.check({ runningBuilds: false }))[0]!.findings).toEqual([]);

      await t.db.query(`UPDATE auto_migrator_builds SET last_seen = now() - interval '31 days' WHERE label = 'v1'`);
      const [later] = await service.check();
      expect(later!.findings).toEqual([]);
      // The next release recorded itself when it booted, but a check never holds a build against itself.
      expect(later!.runningBuilds).toEqual([]);
    });

    it('off by default: nothing recorded, no table', async () => {
      t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [CreateUsers], options: { entities: [userEntity(['name'])] } }],
          migrator: { runMigrations: true },
        }),
      );
      expect(await t.db.tables()).not.toContain('auto_migrator_builds');
    });
  },
  ['postgres'],
);

describeEachDatabase(
  'check: a database check does not run on (SQLite) lists every pending migration as unchecked',
  (t) => {
    it('names the database type as the reason', async () => {
      const Index = defineMigration('IndexName1700000000002', sql('CREATE INDEX users_name ON users (name)'));
      const result = await check(t, [Index]);
      expect(result).toEqual({
        dataSource: 'default',
        findings: [],
        checked: [],
        unchecked: [
          {
            migration: 'IndexName1700000000002',
            reason: expect.stringMatching(/check runs on PostgreSQL and MySQL\/MariaDB/),
          },
        ],
      });
    });
  },
  ['sqlite'],
);
