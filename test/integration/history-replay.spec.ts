import { expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { AutoMigratorConfigError, AutoMigratorService } from '../../lib/index.js';
import { describeEachDatabase, type DatabaseFixture } from '../support/database-suite.js';
import { createTestDatabase, postgresAdminQuery } from '../support/databases.js';
import { defineMigration, sql, type MigrationClass } from '../support/migrations.js';
import { bootApp } from '../support/test-app.js';

const CreateUsers = defineMigration(
  'CreateUsers1700000000001',
  sql(
    'CREATE TABLE users (id SERIAL PRIMARY KEY, name VARCHAR(20) NOT NULL, email TEXT)',
    'CREATE UNIQUE INDEX users_email ON users (email)',
  ),
);
const AddStatus = defineMigration(
  'AddStatus1700000000002',
  sql(
    "CREATE TYPE user_status AS ENUM ('active', 'gone')",
    "ALTER TABLE users ADD status user_status NOT NULL DEFAULT 'active'",
    'CREATE INDEX users_status ON users (status) WHERE status = $$active$$',
  ),
);
const ROLE = 'auto_migrator_replay_probe';
/** Applied on the live database by hand (pretended here): replaying it would create a role on the server. */
const MakeRole = defineMigration('MakeRole1700000000003', sql(`CREATE ROLE ${ROLE}`));
/** Needs what synchronize made once, and no migration creates: fails on an empty database. */
const Legacy = defineMigration('Legacy1700000000004', sql('ALTER TABLE legacy_accounts ADD note TEXT'));

/** Boots an app on the test's database with these migrations; its service. */
async function bootService(t: DatabaseFixture, migrations: MigrationClass[], runMigrations: boolean) {
  const app = t.track(await bootApp({ dataSources: [{ db: t.db, migrations }], migrator: { runMigrations } }));
  return app.app.get(AutoMigratorService);
}

async function tempShadows(t: DatabaseFixture): Promise<string[]> {
  const rows = await t.db.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datname LIKE 'auto\\_migrator\\_shadow\\_%' AND shobj_description(oid, 'pg_database') LIKE '%"${t.db.name}"%'`,
  );
  return rows.map((row) => row.datname);
}

describeEachDatabase(
  'status --schema --replay: the history against the live schema (PostgreSQL)',
  (t) => {
    const service = (migrations: MigrationClass[], runMigrations = false) => bootService(t, migrations, runMigrations);

    it('after up: no difference; an index added and a column retyped by hand are named with both sides; the temporary database is dropped', async () => {
      await service([CreateUsers, AddStatus], true);
      // A tenant's schema (or another application's): not this history's, counted and not compared.
      await t.db.query('CREATE SCHEMA tenant_acme');
      await t.db.query('CREATE TABLE tenant_acme.users (id INT PRIMARY KEY)');
      const live = await service([CreateUsers, AddStatus]);
      const [clean] = await live.status({ schema: true, replay: { onLiveServer: true } });
      expect(clean!.historyReplay!.schemasNotCompared).toBe(1);
      expect(clean!.historyReplay).toMatchObject({
        replayed: 2,
        differences: [],
        shadow: expect.stringMatching(/^temporary database "auto_migrator_shadow_/),
      });
      expect(clean!.historyReplay).not.toHaveProperty('notReplayed');

      await t.db.query('CREATE INDEX users_name_by_hand ON users (lower(name))');
      await t.db.query('ALTER TABLE users ALTER COLUMN name TYPE VARCHAR(40)');
      const [drifted] = await live.status({ schema: true, replay: { onLiveServer: true } });
      expect(drifted!.historyReplay!.differences).toEqual([
        {
          change: 'added',
          kind: 'index',
          name: 'public.users CREATE INDEX USING btree (lower((name)::text))',
          live: '',
          label: 'users_name_by_hand',
        },
        {
          change: 'changed',
          kind: 'column',
          name: 'public.users.name',
          live: 'character varying(40) NOT NULL',
          history: 'character varying(20) NOT NULL',
        },
      ]);
      expect(await tempShadows(t)).toEqual([]);
    });

    it("the live database's extensions exist in the shadow before the first migration (TypeORM or a DBA made them, no migration); a duplicate index made by hand is named", async () => {
      await t.db.query('CREATE EXTENSION IF NOT EXISTS "uuid-ossp"');
      const Tokens = defineMigration(
        'Tokens1700000000002',
        sql('CREATE TABLE tokens (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(), label TEXT)'),
      );
      await service([CreateUsers, Tokens], true);
      const live = await service([CreateUsers, Tokens]);
      const [clean] = await live.status({ schema: true, replay: { onLiveServer: true } });
      expect(clean!.historyReplay).toMatchObject({ replayed: 2, differences: [] });
      expect(clean!.historyReplay).not.toHaveProperty('notReplayed');
      await t.db.query('CREATE UNIQUE INDEX users_email_twin ON users (email)');
      const [twin] = await live.status({ schema: true, replay: { onLiveServer: true } });
      expect(twin!.historyReplay!.differences).toEqual([
        expect.objectContaining({ change: 'added', kind: 'index', name: 'public.users CREATE UNIQUE INDEX USING btree (email)' }),
      ]);
    });

    it('a shadow on the live server only when allowed; an empty database given by URL is used and left empty', async () => {
      await service([CreateUsers], true);
      const live = await service([CreateUsers]);
      await expect(live.status({ schema: true, replay: {} })).rejects.toThrow(AutoMigratorConfigError);
      await expect(live.status({ schema: true, replay: {} })).rejects.toThrow(/--shadow-url .*--replay-on-live-server/);
      const shadow = await createTestDatabase('postgres');
      try {
        await expect(live.status({ schema: true, replay: { url: shadow.url } })).rejects.toThrow(/it is on the live server/);
        const [status] = await live.status({ schema: true, replay: { url: shadow.url, onLiveServer: true } });
        expect(status!.historyReplay).toMatchObject({ replayed: 1, differences: [] });
        expect(await shadow.tables()).toEqual([]);
        await shadow.query('CREATE TABLE leftover (id INT)');
        await expect(live.status({ schema: true, replay: { url: shadow.url, onLiveServer: true } })).rejects.toThrow(/it is not empty/);
      } finally {
        await shadow.drop();
      }
    });

    it('a secret in what differs (a view made by hand quoting the DataSource password) is redacted', async () => {
      const secret = 'replay-hunter2-secret';
      const options = { password: secret };
      t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [CreateUsers], options }], migrator: { runMigrations: true } }));
      await t.db.query(`CREATE VIEW leak AS SELECT 'postgres://app:${secret}@db/app' AS url`);
      const app = t.track(
        await bootApp({ dataSources: [{ db: t.db, migrations: [CreateUsers], options }], migrator: { runMigrations: false } }),
      );
      const [status] = await app.app.get(AutoMigratorService).status({ schema: true, replay: { onLiveServer: true } });
      const shown = JSON.stringify(status!.historyReplay);
      expect(shown).toContain('public.leak');
      expect(shown).not.toContain(secret);
    });

    it("a migration writing through the application's own DataSource writes to the shadow during a replay, never to the live database", async () => {
      const holder: { dataSource?: DataSource } = {};
      const Seed = defineMigration('Seed1700000000002', async () => {
        await holder.dataSource!.query(`INSERT INTO users (name, email) VALUES ('seeded', 'seed@example.com')`);
      });
      const app = t.track(
        await bootApp({ dataSources: [{ db: t.db, migrations: [CreateUsers, Seed] }], migrator: { runMigrations: false } }),
      );
      holder.dataSource = app.app.get(DataSource);
      await app.app.get(AutoMigratorService).up();
      await t.db.query('DELETE FROM users');
      const [status] = await app.app.get(AutoMigratorService).status({ schema: true, replay: { onLiveServer: true } });
      expect(status!.historyReplay).toMatchObject({ replayed: 2, differences: [] });
      expect(await t.db.query('SELECT name FROM users')).toEqual([]);
    });

    it('a statement acting on the whole server stops the replay before it is sent; a migration failing on an empty database is said, nothing compared', async () => {
      await service([CreateUsers], true);
      await t.db.query(`INSERT INTO migrations (timestamp, name) VALUES (1700000000003, 'MakeRole1700000000003')`);
      const [role] = await (await service([CreateUsers, MakeRole])).status({ schema: true, replay: { onLiveServer: true } });
      expect(role!.historyReplay).toMatchObject({
        replayed: 1,
        notReplayed: expect.stringMatching(
          /"MakeRole1700000000003" was stopped before it could act outside the shadow: .*sends CREATE ROLE/,
        ),
        differences: [],
      });
      const roles = (await postgresAdminQuery(`SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}'`)) as { rows: unknown[] };
      expect(roles.rows).toEqual([]);

      await t.db.query(`DELETE FROM migrations WHERE name = 'MakeRole1700000000003'`);
      await t.db.query('CREATE TABLE legacy_accounts (id INT)');
      await t.db.query(`INSERT INTO migrations (timestamp, name) VALUES (1700000000004, 'Legacy1700000000004')`);
      const [legacy] = await (await service([CreateUsers, Legacy])).status({ schema: true, replay: { onLiveServer: true } });
      expect(legacy!.historyReplay).toMatchObject({
        replayed: 1,
        notReplayed: expect.stringMatching(
          /"Legacy1700000000004" failed on an empty database \(.*legacy_accounts.*\): a history born of synchronize/,
        ),
        differences: [],
      });
      expect(await tempShadows(t)).toEqual([]);
    });
  },
  ['postgres'],
);

const MyUsers = defineMigration(
  'CreateUsers1700000000001',
  sql(
    'CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL, email VARCHAR(100), CHECK (CHAR_LENGTH(name) > 0))',
    'CREATE UNIQUE INDEX users_email ON users (email)',
  ),
);
const MyPosts = defineMigration(
  'CreatePosts1700000000002',
  sql(
    'CREATE TABLE posts (id INT AUTO_INCREMENT PRIMARY KEY, user_id INT NOT NULL, CONSTRAINT posts_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE)',
  ),
);
const MyUser = defineMigration('MakeUser1700000000003', sql(`CREATE USER '${ROLE}'@'localhost'`));

describeEachDatabase(
  'status --schema --replay: the history against the live schema (MySQL/MariaDB)',
  (t) => {
    const service = (migrations: MigrationClass[], runMigrations = false) => bootService(t, migrations, runMigrations);

    async function temporaryDatabases(): Promise<string[]> {
      const rows = await t.db.query<{ name: string }>(
        `SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'auto\\_migrator\\_shadow\\_%\\_${process.pid}\\_%'`,
      );
      return rows.map((row) => row.name);
    }

    it('after up: no difference; an index added and a column widened by hand are named with both sides; the temporary database is dropped', async () => {
      await service([MyUsers, MyPosts], true);
      const before = await temporaryDatabases();
      const live = await service([MyUsers, MyPosts]);
      const [clean] = await live.status({ schema: true, replay: { onLiveServer: true } });
      expect(clean!.historyReplay).toMatchObject({ replayed: 2, differences: [] });
      expect(clean!.historyReplay).not.toHaveProperty('notReplayed');

      await t.db.query('CREATE INDEX users_name_by_hand ON users (name)');
      await t.db.query('ALTER TABLE users MODIFY name VARCHAR(40) NOT NULL');
      const [drifted] = await live.status({ schema: true, replay: { onLiveServer: true } });
      expect(drifted!.historyReplay!.differences).toEqual([
        expect.objectContaining({ change: 'added', kind: 'index', name: 'users INDEX BTREE (name)', label: 'users_name_by_hand' }),
        expect.objectContaining({
          change: 'changed',
          kind: 'column',
          name: 'users.name',
          live: expect.stringMatching(/^varchar\(40\) NOT NULL/),
          history: expect.stringMatching(/^varchar\(20\) NOT NULL/),
        }),
      ]);
      await expect(live.status({ schema: true, replay: {} })).rejects.toThrow(/--shadow-url .*--replay-on-live-server/);
      // An empty database by URL on the same server (the server itself says so): refused unless allowed, used when allowed.
      const shadow = await createTestDatabase('mariadb');
      try {
        await expect(live.status({ schema: true, replay: { url: shadow.url } })).rejects.toThrow(/it is on the live server/);
        const [given] = await live.status({ schema: true, replay: { url: shadow.url, onLiveServer: true } });
        expect(given!.historyReplay!.differences.map((d) => d.name)).toEqual(['users INDEX BTREE (name)', 'users.name']);
        expect(await shadow.tables()).toEqual([]);
      } finally {
        await shadow.drop();
      }
      expect(await temporaryDatabases()).toEqual(before);
    });

    it('CREATE USER, and a name in another database of the server, stop the replay before they are sent', async () => {
      await service([MyUsers], true);
      await t.db.query(`INSERT INTO migrations (timestamp, name) VALUES (1700000000003, 'MakeUser1700000000003')`);
      const [user] = await (await service([MyUsers, MyUser])).status({ schema: true, replay: { onLiveServer: true } });
      expect(user!.historyReplay).toMatchObject({
        replayed: 1,
        notReplayed: expect.stringMatching(
          /"MakeUser1700000000003" was stopped before it could act outside the shadow: .*sends CREATE USER/,
        ),
      });
      expect(await t.db.query(`SELECT 1 FROM mysql.user WHERE User = '${ROLE}'`)).toEqual([]);

      await t.db.query(`DELETE FROM migrations WHERE name = 'MakeUser1700000000003'`);
      const LiveWrite = defineMigration('LiveWrite1700000000004', sql(`INSERT INTO \`${t.db.name}\`.users (name) VALUES ('x')`));
      await t.db.query(`INSERT INTO migrations (timestamp, name) VALUES (1700000000004, 'LiveWrite1700000000004')`);
      const [reach] = await (await service([MyUsers, LiveWrite])).status({ schema: true, replay: { onLiveServer: true } });
      expect(reach!.historyReplay).toMatchObject({
        replayed: 1,
        notReplayed: expect.stringMatching(
          new RegExp(
            `"LiveWrite1700000000004" was stopped before it could act outside the shadow: .*sends a name in database "${t.db.name}"`,
          ),
        ),
      });
      expect(await t.db.query('SELECT * FROM users')).toEqual([]);
    });
  },
  ['mariadb'],
);

const LiteUsers = defineMigration(
  'CreateUsers1700000000001',
  sql(
    'CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(20) NOT NULL, email TEXT UNIQUE)',
    'CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE)',
    'CREATE INDEX posts_user ON posts (user_id) WHERE user_id > 0',
    'CREATE VIEW named AS SELECT id, name FROM users',
  ),
);
const Attach = defineMigration('Attach1700000000002', sql("ATTACH DATABASE '/tmp/elsewhere.sqlite' AS elsewhere"));

describeEachDatabase(
  'status --schema --replay: the history against the live schema (SQLite)',
  (t) => {
    const service = (migrations: MigrationClass[], runMigrations = false) => bootService(t, migrations, runMigrations);

    it('after up: no difference; an index and a column added by hand are named; ATTACH stops the replay unsent', async () => {
      await service([LiteUsers], true);
      const live = await service([LiteUsers]);
      const [clean] = await live.status({ schema: true, replay: {} });
      expect(clean!.historyReplay).toMatchObject({
        replayed: 1,
        differences: [],
        shadow: expect.stringMatching(/^temporary database file /),
      });
      const file = clean!.historyReplay!.shadow!.slice('temporary database file '.length);
      expect(existsSync(file)).toBe(false);

      await t.db.query('CREATE INDEX users_name_by_hand ON users (name)');
      await t.db.query('ALTER TABLE users ADD extra INT');
      const [drifted] = await live.status({ schema: true, replay: {} });
      expect(drifted!.historyReplay!.differences).toEqual([
        { change: 'added', kind: 'index', name: 'users (name)', live: '', label: 'users_name_by_hand' },
        { change: 'added', kind: 'column', name: 'users.extra', live: 'INT NULL' },
      ]);

      await t.db.query(`INSERT INTO migrations (timestamp, name) VALUES (1700000000002, 'Attach1700000000002')`);
      const [attach] = await (await service([LiteUsers, Attach])).status({ schema: true, replay: {} });
      expect(attach!.historyReplay).toMatchObject({
        replayed: 1,
        notReplayed: expect.stringMatching(/"Attach1700000000002" was stopped before it could act outside the shadow: .*sends ATTACH/),
      });
    });
  },
  ['sqlite'],
);
