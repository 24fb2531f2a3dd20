import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { afterEach, expect, it } from 'vitest';
import { AutoMigratorConfigError, AutoMigratorService, type DeployCheckResult } from '../../lib/index.js';
import { describeEachDatabase, type DatabaseFixture } from '../support/database-suite.js';
import { createPostgresLoginRole, createTestDatabase, postgresAdminQuery, type TestDatabase } from '../support/databases.js';
import { defineMigration, sql, type MigrationClass } from '../support/migrations.js';
import { bootApp, waitFor } from '../support/test-app.js';

const CreateItems = defineMigration('CreateItems1700000000001', sql('CREATE TABLE items (id INT PRIMARY KEY, v INT, label TEXT)'));
const IndexAndRetype = defineMigration(
  'IndexAndRetype1700000000002',
  sql('CREATE INDEX items_v ON items (v)', 'ALTER TABLE items ALTER COLUMN v TYPE bigint'),
);

/**
 * The temporary shadow databases of this test's database on the server now (by the comment the
 * library puts on them: other test files make shadows of their own databases at the same time).
 */
async function shadowDatabases(t: DatabaseFixture): Promise<string[]> {
  const rows = (await t.db.query(
    `SELECT datname FROM pg_database WHERE datname LIKE 'auto\\_migrator\\_shadow\\_%' AND shobj_description(oid, 'pg_database') LIKE '%"${t.db.name}"%'`,
  )) as Array<{ datname: string }>;
  return rows.map((row) => row.datname);
}

/** Applies CreateItems, fills it with `rows` rows (never analyzed), and boots an app with `pending` left to run. */
async function withPending(t: DatabaseFixture, pending: MigrationClass[], rows: number, options: { url?: string } = {}) {
  t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [CreateItems], options }], migrator: { runMigrations: true } }));
  await t.db.query(`INSERT INTO items (id, v, label) SELECT g, g % 1000, 'item ' || g FROM generate_series(1, ${rows}) AS g`);
  const app = t.track(
    await bootApp({
      dataSources: [{ db: t.db, migrations: [CreateItems, ...pending], options }],
      migrator: { runMigrations: false, migrationTimeouts: { lockTimeoutMs: 5000 } },
    }),
  );
  return { service: app.app.get(AutoMigratorService), dataSource: app.app.get(DataSource) };
}

describeEachDatabase(
  'check and plan run the pending migrations in a shadow, never on the live tables',
  (t) => {
    it('while a live transaction holds a never-analyzed table of 300,000 rows, check completes with its findings graded by the live size; the live table is locked no stronger than ACCESS SHARE, its statistics and files unchanged, and the temporary shadow is dropped', async () => {
      const { service } = await withPending(t, [IndexAndRetype], 300_000);
      const before = (await t.db.query(
        `SELECT reltuples::float8 AS reltuples, relpages, relfilenode::text AS file FROM pg_class WHERE oid = 'items'::regclass`,
      )) as unknown[];
      // A release writing to the table: an uncommitted insert holds ROW EXCLUSIVE until the end. A dry
      // run on the live table would wait behind it (CREATE INDEX needs SHARE) and stop at its lock timeout.
      const writer = await openSession(t);
      await writer.query('BEGIN');
      await writer.query(`INSERT INTO items (id, v) VALUES (0, 0)`);
      const sampled: string[] = [];
      let sampling = true;
      const sampler = (async () => {
        const monitor = await openSession(t);
        try {
          while (sampling) {
            const rows = (await monitor.query(
              `SELECT l.mode FROM pg_locks l WHERE l.relation = 'items'::regclass AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND l.pid NOT IN (pg_backend_pid(), $1)`,
              [writer.pid],
            )) as Array<{ mode: string }>;
            sampled.push(...rows.map((row) => row.mode));
          }
        } finally {
          await monitor.close();
        }
      })();
      let result: DeployCheckResult;
      try {
        [result] = (await service.check({ lockTimeoutMs: 2000 })) as [DeployCheckResult];
      } finally {
        sampling = false;
        await sampler;
        await writer.query('ROLLBACK');
        await writer.close();
      }
      expect(result.checked).toEqual(['IndexAndRetype1700000000002']);
      expect(result.unchecked).toEqual([]);
      expect(result.findings.map((finding) => `${finding.severity} ${finding.rule} ${finding.table}`)).toEqual(
        expect.arrayContaining(['error blocking-index public.items', 'error table-rewrite public.items']),
      );
      // Never analyzed: graded by the planner's estimate from its pages (an error from 100,000 rows), read without ANALYZE.
      expect(result.findings[0]!.message).toMatch(
        /about \d{3},\d{3} rows, [\d.]+ MiB; never analyzed: the planner's estimate from its size/,
      );
      expect(sampled.filter((mode) => mode !== 'AccessShareLock')).toEqual([]);
      const after = (await t.db.query(
        `SELECT reltuples::float8 AS reltuples, relpages, relfilenode::text AS file FROM pg_class WHERE oid = 'items'::regclass`,
      )) as unknown[];
      expect(after).toEqual(before);
      expect(before).toEqual([expect.objectContaining({ reltuples: -1 })]);
      expect(await shadowDatabases(t)).toEqual([]);
    });

    it('the shadow has the live database settings (a search_path set on the database) and the session reads them; plan shows the SQL, and nothing is left', async () => {
      await t.db.query('CREATE SCHEMA app');
      await postgresAdminQuery(`ALTER DATABASE "${t.db.name}" SET search_path = app, public`);
      const InApp = defineMigration('InApp1700000000001', sql('CREATE TABLE things (id INT PRIMARY KEY, v INT)'));
      t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [InApp] }], migrator: { runMigrations: true } }));
      expect(await t.db.query(`SELECT to_regclass('app.things') IS NOT NULL AS found`)).toEqual([{ found: true }]);
      const Index = defineMigration('IndexThings1700000000002', sql('CREATE INDEX things_v ON things (v)'));
      const app = t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [InApp, Index] }], migrator: { runMigrations: false } }));
      const [plan] = await app.app.get(AutoMigratorService).plan();
      expect(plan).toMatchObject({
        pending: 1,
        complete: true,
        migrations: [{ name: 'IndexThings1700000000002', statements: [{ sql: 'CREATE INDEX things_v ON things (v)' }] }],
      });
      expect(await shadowDatabases(t)).toEqual([]);
    });

    it('a migration that queries through the DataSource itself (not its query runner) stays in the shadow: the live table keeps its rows', async () => {
      // The application's own DataSource, as a migration that imports it would use it.
      const app: { dataSource?: DataSource } = {};
      const Purge = defineMigration('Purge1700000000002', async () => {
        await app.dataSource!.query('DELETE FROM items');
        await app.dataSource!.manager.query(`INSERT INTO items (id, v) VALUES (-1, -1)`);
      });
      const pending = await withPending(t, [Purge], 10);
      app.dataSource = pending.dataSource;
      const [plan] = await pending.service.plan();
      expect(plan).toMatchObject({
        complete: true,
        migrations: [
          { name: 'Purge1700000000002', statements: [{ sql: 'DELETE FROM items' }, { sql: 'INSERT INTO items (id, v) VALUES (-1, -1)' }] },
        ],
      });
      expect(await t.db.query('SELECT count(*)::int AS n, min(id) AS low FROM items')).toEqual([{ n: 10, low: 1 }]);
    });
  },
  ['postgres'],
);

/** A plain session on the test database (pg), with its backend pid. */
async function openSession(
  t: DatabaseFixture,
): Promise<{ pid: number; query(sql: string, values?: unknown[]): Promise<unknown[]>; close(): Promise<void> }> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: t.db.url });
  await client.connect();
  const pid = Number(((await client.query('SELECT pg_backend_pid() AS pid')).rows[0] as { pid: number }).pid);
  return {
    pid,
    query: async (text, values) => (await client.query(text, values)).rows as unknown[],
    close: () => client.end(),
  };
}

describeEachDatabase(
  'the shadow: given by URL, refused, left by a killed run',
  (t) => {
    /** A second database on the same server, dropped after the test. */
    async function otherDatabase(): Promise<TestDatabase> {
      const other = await createTestDatabase('postgres');
      extra.push(other);
      return other;
    }
    const extra: TestDatabase[] = [];
    afterEach(async () => {
      for (const db of extra.splice(0)) await db.drop();
    });

    it('an empty database given as the shadow is filled with the live schema, used, and emptied again; the live one is untouched', async () => {
      const { service } = await withPending(t, [IndexAndRetype], 100);
      const shadow = await otherDatabase();
      const [result] = await service.check({ shadow: { url: shadow.url } });
      expect(result).toMatchObject({ checked: ['IndexAndRetype1700000000002'], unchecked: [] });
      expect(result!.findings.map((finding) => finding.rule)).toEqual(expect.arrayContaining(['blocking-index', 'table-rewrite']));
      expect(
        await shadow.query(
          `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'`,
        ),
      ).toEqual([{ n: 0 }]);
      expect(await shadowDatabases(t)).toEqual([]);
      // Emptied, it can be given again.
      const [again] = await service.check({ shadow: { url: shadow.url } });
      expect(again!.checked).toEqual(['IndexAndRetype1700000000002']);
    });

    it('a copy of the live database (same migrations applied) is used as it is, with its rows; anything else is refused, and so is the live database itself', async () => {
      const { service } = await withPending(t, [IndexAndRetype], 100);
      const copy = await otherDatabase();
      t.track(await bootApp({ dataSources: [{ db: copy, migrations: [CreateItems] }], migrator: { runMigrations: true } }));
      await copy.query(`INSERT INTO items (id, v) VALUES (1, NULL), (2, NULL)`);
      const [result] = await service.check({ shadow: { url: copy.url } });
      expect(result!.checked).toEqual(['IndexAndRetype1700000000002']);
      // The copy stays as it was: the dry run in it was rolled back.
      expect(await copy.query(`SELECT count(*)::int AS n, to_regclass('items_v') IS NULL AS no_index FROM items`)).toEqual([
        { n: 2, no_index: true },
      ]);

      const stranger = await otherDatabase();
      await stranger.query('CREATE TABLE unrelated (id INT)');
      await expect(service.check({ shadow: { url: stranger.url } })).rejects.toThrow(
        /shadow database \(postgres .*\) is not empty and is not a copy of the live one: it has no migrations table\. Give a fresh clone or branch of production, or an empty database/,
      );
      await expect(service.plan({ shadow: { url: t.db.url } })).rejects.toThrow(/the shadow database URL names the live database itself/);
      await expect(service.plan({ shadow: { url: 'not a url' } })).rejects.toThrow(/the shadow database URL is not a valid URL/);
      expect(await stranger.query(`SELECT to_regclass('unrelated') IS NOT NULL AS kept`)).toEqual([{ kept: true }]);
    });

    it('a migration with transaction = false: not checked in a copy given as it is (it must stay a copy), checked in an empty database given, which is emptied after', async () => {
      const Concurrent = defineMigration('Concurrent1700000000002', sql('CREATE INDEX CONCURRENTLY items_v ON items (v)'), {
        transaction: false,
      });
      const { service } = await withPending(t, [Concurrent], 100);
      const copy = await otherDatabase();
      t.track(await bootApp({ dataSources: [{ db: copy, migrations: [CreateItems] }], migrator: { runMigrations: true } }));
      const [inCopy] = await service.check({ shadow: { url: copy.url } });
      expect(inCopy!.unchecked).toEqual([
        {
          migration: 'Concurrent1700000000002',
          reason: expect.stringMatching(/the shadow database given is a copy used as it is, which must stay one; give an empty database/),
        },
      ]);
      expect(await copy.query(`SELECT to_regclass('items_v') IS NULL AS none`)).toEqual([{ none: true }]);
      const empty = await otherDatabase();
      const [inEmpty] = await service.check({ shadow: { url: empty.url } });
      expect(inEmpty).toMatchObject({ checked: ['Concurrent1700000000002'], unchecked: [], findings: [] });
      expect(
        await empty.query(
          `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'`,
        ),
      ).toEqual([{ n: 0 }]);
    });

    it('a role that may not create databases, given no URL: refused before anything runs, naming CREATEDB and --shadow-url', async () => {
      const login = await createPostgresLoginRole(t.db, 'n0-createdb-Pw');
      try {
        const { service } = await withPending(t, [IndexAndRetype], 10, { url: login.url });
        const error = await service.check().then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(error).toBeInstanceOf(AutoMigratorConfigError);
        expect(error!.message).toMatch(
          /never run the pending migrations on the live database, and the role "am_role_\w+" may not create the temporary database/,
        );
        expect(error!.message).toMatch(/--shadow-url <url> \(or SHADOW_DATABASE_URL.*ALTER ROLE "am_role_\w+" CREATEDB/);
        expect(error!.message).not.toContain('n0-createdb-Pw');
        expect(await shadowDatabases(t)).toEqual([]);
      } finally {
        await t.db.query(`REASSIGN OWNED BY ${login.role} TO CURRENT_USER; DROP OWNED BY ${login.role}`);
        await login.drop();
      }
    });

    it('a temporary shadow left by a killed run (nobody connected, older than 10 minutes) is dropped by the next check; a recent one is left', async () => {
      const old = `auto_migrator_shadow_${(Date.now() - 11 * 60_000).toString(36)}_1_abcdef`;
      const recent = `auto_migrator_shadow_${Date.now().toString(36)}_1_abcdef`;
      await postgresAdminQuery(`CREATE DATABASE ${old}`);
      await postgresAdminQuery(`CREATE DATABASE ${recent}`);
      try {
        const { service } = await withPending(t, [IndexAndRetype], 10);
        await service.check();
        const left = (await t.db.query(`SELECT datname FROM pg_database WHERE datname IN ('${old}', '${recent}')`)) as Array<{
          datname: string;
        }>;
        expect(left.map((row) => row.datname)).toEqual([recent]);
      } finally {
        await postgresAdminQuery(`DROP DATABASE IF EXISTS ${old}`);
        await postgresAdminQuery(`DROP DATABASE IF EXISTS ${recent}`);
      }
    });
  },
  ['postgres'],
);

describeEachDatabase(
  'the shadow from the CLI',
  (t) => {
    const ROOT = join(import.meta.dirname, '../..');
    const BIN = join(ROOT, 'dist/cli/auto-migrator.js');
    const DATA_SOURCE = join(ROOT, 'test/fixtures/cli-data-source.mjs');

    function cli(args: string[], env: Record<string, string> = {}) {
      const child = spawn(process.execPath, [BIN, ...args, '--data-source', DATA_SOURCE], {
        env: { ...process.env, NO_COLOR: '1', CLI_DB_KIND: 'postgres', CLI_DB_URL: t.db.url, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
        child.once('exit', (code) => resolve({ code, stdout, stderr })),
      );
      return { child, exited };
    }

    it('--shadow-url and SHADOW_DATABASE_URL name the shadow; --shadow-url with another command is a usage error', async () => {
      const shadow = await createTestDatabase('postgres');
      try {
        const flag = await cli(['plan', '--shadow-url', shadow.url]).exited;
        expect(flag.code, flag.stderr).toBe(0);
        expect(flag.stdout).toContain('CREATE TABLE alpha (id INT PRIMARY KEY);');
        expect(flag.stderr).toMatch(
          /run in the shadow database postgres 127\.0\.0\.1:\d+\/am_\w+, user "postgres", filled with the live schema/,
        );
        const env = await cli(['check'], { SHADOW_DATABASE_URL: shadow.url }).exited;
        expect(env.code, env.stderr).toBe(0);
        expect(env.stderr).toMatch(/run in the shadow database postgres .*filled with the live schema/);
        const misplaced = await cli(['status', '--shadow-url', shadow.url]).exited;
        expect(misplaced.code).toBe(2);
        expect(misplaced.stderr).toContain('--shadow-url goes with plan, check or status --schema --replay, not status');
        expect(await t.db.query(`SELECT to_regclass('alpha') IS NULL AS untouched`)).toEqual([{ untouched: true }]);
      } finally {
        await shadow.drop();
      }
    });

    it('Ctrl-C while the migrations run in the temporary shadow: it is dropped, exit 130', async () => {
      const run = cli(['plan'], { CLI_FAIL_SQL: 'SELECT pg_sleep(120)' });
      const inShadow = async () =>
        (
          (await t.db.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname LIKE 'auto\\_migrator\\_shadow\\_%' AND query LIKE 'SELECT pg_sleep(120)%'`,
          )) as Array<{ n: number }>
        )[0]!.n > 0;
      await waitFor(inShadow, 30_000, 'the plan running in its shadow');
      run.child.kill('SIGINT');
      const { code } = await run.exited;
      expect(code).toBe(130);
      expect(await shadowDatabases(t)).toEqual([]);
    });
  },
  ['postgres'],
);

describeEachDatabase(
  'the locks each statement takes, read on the shadow',
  (t) => {
    const Tables = defineMigration(
      'Tables1700000000001',
      sql(
        'CREATE TABLE orgs (id INT PRIMARY KEY)',
        'CREATE TABLE users (id INT PRIMARY KEY, name TEXT, age INT, org_id INT)',
        'CREATE INDEX users_name ON users (name)',
      ),
    );

    /** plan() of one pending migration of `statements`: the locks each statement took on live relations. */
    async function locksOf(...statements: string[]) {
      return (await allLocksOf(...statements)).map((locks) => locks.filter((lock) => !lock.startsWith('new ')));
    }

    /** The same, with the relations the migration created. */
    async function allLocksOf(...statements: string[]) {
      const app = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [Tables, defineMigration('Pending1700000000002', sql(...statements))] }],
          migrator: { runMigrations: false },
        }),
      );
      const [plan] = await app.app.get(AutoMigratorService).plan();
      await app.close();
      expect(plan!.complete, JSON.stringify(plan)).toBe(true);
      return plan!.migrations[0]!.statements.map((statement) =>
        (statement.locks ?? [])
          .map(
            (lock) =>
              `${lock.created ? 'new ' : ''}${lock.kind} ${lock.schema}.${lock.name} ${lock.mode}${lock.rewritten ? ' rewritten' : ''}`,
          )
          .sort(),
      );
    }

    it('as PostgreSQL reports them: the declared lock of each rule, and what no rule names (DROP INDEX, a foreign key on both tables, REINDEX, a trigger)', async () => {
      t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [Tables] }], migrator: { runMigrations: true } }));
      expect(await locksOf('CREATE INDEX users_age ON users (age)')).toEqual([['table public.users SHARE']]);
      expect(await locksOf('DROP INDEX users_name')).toEqual([
        ['index public.users_name ACCESS EXCLUSIVE', 'table public.users ACCESS EXCLUSIVE'],
      ]);
      expect(await locksOf('ALTER TABLE users ADD CONSTRAINT users_org FOREIGN KEY (org_id) REFERENCES orgs (id)')).toEqual([
        expect.arrayContaining(['table public.users SHARE ROW EXCLUSIVE', 'table public.orgs SHARE ROW EXCLUSIVE']),
      ]);
      const [retype] = await locksOf('ALTER TABLE users ALTER COLUMN age TYPE bigint');
      expect(retype).toEqual(
        expect.arrayContaining(['table public.users ACCESS EXCLUSIVE rewritten', 'index public.users_name ACCESS EXCLUSIVE rewritten']),
      );
      expect(await locksOf('ALTER TABLE users ADD COLUMN note TEXT')).toEqual([['table public.users ACCESS EXCLUSIVE']]);
      expect(await locksOf('REINDEX INDEX users_name')).toEqual([
        expect.arrayContaining(['table public.users SHARE', 'index public.users_name ACCESS EXCLUSIVE rewritten']),
      ]);
      const trigger = await locksOf(
        `CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
        'CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()',
      );
      expect(trigger[1]).toEqual(['table public.users SHARE ROW EXCLUSIVE']);
      // A table re-created under a live table's name is a new table: its index locks nothing live.
      const recreated = await allLocksOf(
        'ALTER TABLE orgs RENAME TO orgs_old',
        'CREATE TABLE orgs (id INT PRIMARY KEY)',
        'CREATE INDEX orgs_id ON orgs (id)',
      );
      expect(recreated[0]).toEqual(['table public.orgs ACCESS EXCLUSIVE']);
      expect(recreated[1]).toEqual(expect.arrayContaining(['new table public.orgs ACCESS EXCLUSIVE']));
      expect(recreated[2]).toEqual(['new index public.orgs_id ACCESS EXCLUSIVE']);
    });
  },
  ['postgres'],
);

describeEachDatabase(
  'findings from what the shadow saw',
  (t) => {
    /** check() of `statements` as one pending migration, over items (rows) with an index on v. */
    async function checkOf(rows: number, ...statements: string[]): Promise<DeployCheckResult> {
      const { service } = await withPending(t, [defineMigration('Pending1700000000003', sql(...statements))], rows);
      await t.db.query('CREATE INDEX items_v ON items (v)');
      const [result] = await service.check();
      expect(result!.unchecked).toEqual([]);
      return result!;
    }

    it('DROP INDEX on a live table: blocking-lock with the lock PostgreSQL took, naming DROP INDEX CONCURRENTLY', async () => {
      const dropped = await checkOf(1_000, 'DROP INDEX items_v');
      expect(dropped.findings.map((f) => `${f.severity} ${f.rule} ${f.table} ${f.lock}`)).toEqual([
        'warning blocking-lock public.items ACCESS EXCLUSIVE',
      ]);
      expect(dropped.findings[0]!.message).toMatch(
        /takes ACCESS EXCLUSIVE on public\.items \(.*\), as the shadow showed.*DROP INDEX CONCURRENTLY/,
      );
    });

    it('REINDEX and CREATE TRIGGER, which no rule names: blocking-lock with their locks', async () => {
      const result = await checkOf(
        1_000,
        'REINDEX INDEX items_v',
        `CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
        'CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch()',
      );
      expect(result.findings.map((f) => `${f.rule} ${f.table} ${f.lock} ${f.statement.split(' ')[0]}`)).toEqual([
        'blocking-lock public.items SHARE REINDEX',
        'blocking-lock public.items SHARE ROW EXCLUSIVE CREATE',
      ]);
    });

    it("today's data, read from the live table: SET NOT NULL over NULLs, a unique index over repeated values, a NOT NULL column without a default on a table with rows, a foreign key over rows that reference nothing fail; clean data and NOT VALID do not", async () => {
      const { service } = await withPending(
        t,
        [
          defineMigration(
            'Tighten1700000000003',
            sql(
              'ALTER TABLE items ALTER COLUMN label SET NOT NULL',
              'CREATE UNIQUE INDEX items_v_unique ON items (v)',
              'CREATE UNIQUE INDEX items_label_unique ON items (label)',
              'ALTER TABLE items ADD COLUMN code INT NOT NULL',
              'ALTER TABLE items ALTER COLUMN id SET NOT NULL',
              'ALTER TABLE items ADD CONSTRAINT items_kind FOREIGN KEY (v) REFERENCES kinds (id)',
              'ALTER TABLE items ADD CONSTRAINT items_kind_later FOREIGN KEY (v) REFERENCES kinds (id) NOT VALID',
              'ALTER TABLE items ADD CONSTRAINT items_id_kind FOREIGN KEY (id) REFERENCES items (id)',
            ),
          ),
        ],
        2_000,
      );
      await t.db.query(`UPDATE items SET label = NULL WHERE id IN (1, 2)`);
      await t.db.query(`CREATE TABLE kinds (id INT PRIMARY KEY); INSERT INTO kinds SELECT generate_series(0, 9)`);
      const before = await t.db.query(`SELECT count(*)::int AS n FROM items WHERE label IS NULL`);
      const [result] = await service.check();
      const data = result!.findings.filter((finding) => finding.rule === 'fails-on-data');
      expect(data.map((f) => `${f.severity} ${f.column ?? '-'} ${f.statement}`)).toEqual([
        'error label ALTER TABLE items ALTER COLUMN label SET NOT NULL',
        'error v CREATE UNIQUE INDEX items_v_unique ON items (v)',
        'error code ALTER TABLE items ADD COLUMN code INT NOT NULL',
        'error v ALTER TABLE items ADD CONSTRAINT items_kind FOREIGN KEY (v) REFERENCES kinds (id)',
      ]);
      expect(data[3]!.message).toMatch(
        /the foreign key on "v": more than 1,000 row\(s\) of public\.items reference no row of public\.kinds/,
      );
      expect(data[0]!.message).toMatch(
        /SET NOT NULL on "label": 2 row\(s\) of public\.items hold NULL there, read from the live table now/,
      );
      expect(data[1]!.message).toMatch(/the unique index on "v": 1,000 value\(s\) of public\.items appear more than once/);
      expect(data[2]!.message).toMatch(/public\.items has more than 1,000 row\(s\)/);
      // Read, not changed.
      expect(await t.db.query(`SELECT count(*)::int AS n FROM items WHERE label IS NULL`)).toEqual(before);
    });

    it('a migration with transaction = false runs in the temporary shadow as it would for real, committed, and is checked: CONCURRENTLY is no finding, a unique one over duplicates fails on data, a plain DROP INDEX is blocking-lock as observed; the migration after it is checked too', async () => {
      const Concurrent = defineMigration(
        'Concurrent1700000000003',
        sql(
          'CREATE INDEX CONCURRENTLY items_label ON items (label)',
          'CREATE UNIQUE INDEX CONCURRENTLY items_v_unique ON items (v)',
          'DROP INDEX items_v',
        ),
        { transaction: false },
      );
      const After = defineMigration('After1700000000004', sql('CREATE INDEX items_label_v ON items (label, v)'));
      const { service } = await withPending(t, [Concurrent, After], 2_000);
      await t.db.query('CREATE INDEX items_v ON items (v)');
      const [result] = await service.check();
      expect(result).toMatchObject({ checked: ['Concurrent1700000000003', 'After1700000000004'], unchecked: [] });
      expect(result!.findings.map((f) => `${f.severity} ${f.rule} ${f.lock ?? '-'} ${f.statement}`)).toEqual([
        'warning blocking-lock ACCESS EXCLUSIVE DROP INDEX items_v',
        'warning blocking-index SHARE CREATE INDEX items_label_v ON items (label, v)',
        'error fails-on-data SHARE UPDATE EXCLUSIVE CREATE UNIQUE INDEX CONCURRENTLY items_v_unique ON items (v)',
      ]);
      const [plan] = await service.plan();
      expect(plan!.complete).toBe(true);
      // CONCURRENTLY cannot run in a transaction: sent alone, its locks are not seen (no list); DROP INDEX's are.
      expect(plan!.migrations[0]!.statements.map((statement) => statement.locks?.map((lock) => `${lock.name} ${lock.mode}`))).toEqual([
        undefined,
        undefined,
        expect.arrayContaining(['items ACCESS EXCLUSIVE', 'items_v ACCESS EXCLUSIVE']),
      ]);
      // Committed in the shadow only: the live table has none of its indexes, and the shadow is gone.
      expect(await t.db.query(`SELECT to_regclass('items_label') IS NULL AS none, to_regclass('items_v') IS NOT NULL AS kept`)).toEqual([
        { none: true, kept: true },
      ]);
      expect(await shadowDatabases(t)).toEqual([]);
    });

    it('a migration with transaction = false that would act on the server the shadow shares (CREATE ROLE) is stopped before it is sent and listed as not checked', async () => {
      const role = `am_probe_${process.pid}`;
      const Role = defineMigration(
        'Role1700000000003',
        sql('CREATE INDEX CONCURRENTLY items_label ON items (label)', `CREATE ROLE ${role}`),
        {
          transaction: false,
        },
      );
      const { service } = await withPending(t, [Role], 10);
      const [result] = await service.check();
      expect(result!.checked).toEqual([]);
      expect(result!.unchecked).toEqual([
        {
          migration: 'Role1700000000003',
          reason: expect.stringMatching(
            /commit as they run \(without a transaction, or MySQL's DDL\) and it sends CREATE ROLE, which would act on the server the shadow shares/,
          ),
        },
      ]);
      expect(await t.db.query(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname = '${role}'`)).toEqual([{ n: 0 }]);
      expect(await shadowDatabases(t)).toEqual([]);
    });

    it('a quick ACCESS EXCLUSIVE followed in its migration by a backfill of every row is long-held-lock; the backfill in a migration of its own is not', async () => {
      const Together = defineMigration(
        'Together1700000000003',
        sql('ALTER TABLE items ADD COLUMN code INT', 'UPDATE items SET code = v WHERE code IS NULL'),
      );
      const Apart = defineMigration('Apart1700000000004', sql('ALTER TABLE items ADD COLUMN grade INT'));
      const Backfill = defineMigration('Backfill1700000000005', sql('UPDATE items SET grade = v'));
      const { service } = await withPending(t, [Together, Apart, Backfill], 2_000);
      const [result] = await service.check();
      expect(result!.checked).toEqual(['Together1700000000003', 'Apart1700000000004', 'Backfill1700000000005']);
      expect(result!.findings.map((f) => `${f.severity} ${f.rule} ${f.lock} ${f.statement}`)).toEqual([
        'warning long-held-lock ACCESS EXCLUSIVE ALTER TABLE items ADD COLUMN code INT',
      ]);
      expect(result!.findings[0]!.message).toMatch(
        /holds it until its transaction ends, which comes only after the UPDATE of every row of public\.items \(about [\d,]+ rows, .*\) later in the same migration/,
      );
    });

    it("each migration in its own transaction, as the real run ('each'): a lock an earlier migration took is taken again, and found, in the next", async () => {
      const Widen = defineMigration('Widen1700000000003', sql('ALTER TABLE items ADD COLUMN extra INT'));
      const Drop = defineMigration('Drop1700000000004', sql('DROP INDEX items_v'));
      const { service } = await withPending(t, [Widen, Drop], 1_000);
      await t.db.query('CREATE INDEX items_v ON items (v)');
      const [result] = await service.check();
      expect(result!.checked).toEqual(['Widen1700000000003', 'Drop1700000000004']);
      expect(result!.findings.map((f) => `${f.migration} ${f.rule} ${f.lock}`)).toEqual([
        'Drop1700000000004 blocking-lock ACCESS EXCLUSIVE',
      ]);
    });

    it('a table re-created under a live table name is a new table: an index on it is no finding; the live one renamed away is still the live one', async () => {
      const result = await checkOf(
        1_000,
        'ALTER TABLE items RENAME TO items_old',
        'CREATE TABLE items (id INT PRIMARY KEY, v INT)',
        'CREATE INDEX items_new_v ON items (v)',
        'CREATE INDEX items_old_label ON items_old (label)',
      );
      expect(result.findings.map((f) => `${f.rule} ${f.table} ${f.statement}`)).toEqual([
        'blocking-index public.items CREATE INDEX items_old_label ON items_old (label)',
      ]);
    });
  },
  ['postgres'],
);
