import pg from 'pg';
import type { QueryRunner } from 'typeorm';
import { expect, it } from 'vitest';
import { AutoMigratorService, type DryRunResult } from '../../lib/index.js';
import { describeEachDatabase } from '../support/database-suite.js';
import { createTestDatabase } from '../support/databases.js';
import { defineMigration, sql, type MigrationClass } from '../support/migrations.js';
import { bootApp } from '../support/test-app.js';

/** `$1` on PostgreSQL, `?` on SQLite. */
const param = (kind: string) => (kind === 'postgres' ? '$1' : '?');

/**
 * Real data migrations reach the database every way TypeORM offers, not only through the query
 * runner they are given: each of these writes a row another way.
 */
function dataMigrations(kind: string): MigrationClass[] {
  return [
    defineMigration('ViaConnection1700000000002', (q) =>
      q.connection.query(`INSERT INTO items (id, label) VALUES (1, ${param(kind)})`, ['connection']),
    ),
    defineMigration('ViaManager1700000000003', (q) => q.connection.manager.query(`INSERT INTO items (id, label) VALUES (2, 'manager')`)),
    defineMigration('ViaQueryBuilder1700000000004', (q) =>
      q.connection.createQueryBuilder().insert().into('items', ['id', 'label']).values({ id: 3, label: 'query builder' }).execute(),
    ),
    defineMigration('ViaNewQueryRunner1700000000005', async (q) => {
      const own = q.connection.createQueryRunner();
      await own.connect();
      await own.startTransaction();
      await own.query(`INSERT INTO items (id, label) VALUES (4, 'own query runner')`);
      await own.commitTransaction();
      await own.release();
    }),
    defineMigration('ViaTransaction1700000000006', (q) =>
      q.connection.transaction((manager) => manager.query(`INSERT INTO items (id, label) VALUES (5, 'transaction')`)),
    ),
    // Reads what the ones before wrote, through yet another path: it sees the preview's rows.
    defineMigration('CountItems1700000000007', async (q) => {
      const [row] = (await q.connection.query('SELECT COUNT(*) AS n FROM items')) as Array<{ n: number | string }>;
      await q.query(`INSERT INTO items (id, label) VALUES (6, ${param(kind)})`, [`saw ${Number(row!.n)}`]);
    }),
  ];
}

const CreateItems = defineMigration('CreateItems1700000000001', sql('CREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(50))'));

function sqlOf(result: DryRunResult): string[] {
  return result.migrations.flatMap((migration) => migration.statements.map((statement) => statement.sql));
}

describeEachDatabase(
  'plan: a dry run never writes, whatever the migrations do',
  (t) => {
    async function plan(
      migrations: MigrationClass[],
      applied: MigrationClass[] = [],
      options: Parameters<AutoMigratorService['plan']>[0] = {},
    ) {
      if (applied.length > 0)
        t.track(await bootApp({ dataSources: [{ db: t.db, migrations: applied }], migrator: { runMigrations: true } }));
      const app = t.track(await bootApp({ dataSources: [{ db: t.db, migrations }], migrator: { runMigrations: false } }));
      const [result] = await app.app.get(AutoMigratorService).plan(options);
      return { result: result!, app };
    }

    it('on a fresh database: writes through the connection, manager, query builder, own query runner and transaction all run in the preview, are shown, and are rolled back', async () => {
      const { result, app } = await plan([CreateItems, ...dataMigrations(t.kind)]);
      expect(result.migrations.map((m) => m.error)).toEqual(new Array(7).fill(undefined));
      expect(result).toMatchObject({ complete: true, pending: 7 });
      const statements = sqlOf(result).join('\n');
      for (const id of [1, 2, 3, 4, 5, 6]) expect(statements).toMatch(new RegExp(`INSERT INTO .?items.? .*(VALUES \\(${id},|\\$1|\\?)`));
      // The last one counted the five rows the others inserted: they all ran in one transaction.
      expect(result.migrations.at(-1)!.statements.find((s) => s.sql.startsWith('INSERT'))!.parameters).toEqual(['saw 5']);
      expect(await t.db.tables()).toEqual([]);
      expect(app.logger.text()).toMatch(/dry run of 7 migration\(s\) rolled back; nothing was kept/);
    });

    it('with the table applied: data migrations pending keep no row, and one that alters the table then reads it through the connection does not wait on the preview', async () => {
      const AlterThenRead = defineMigration('AlterThenRead1700000000008', async (q) => {
        await q.query('ALTER TABLE items ADD COLUMN note VARCHAR(20)');
        await q.connection.query('SELECT COUNT(*) AS n FROM items');
      });
      const migrations = [CreateItems, ...dataMigrations(t.kind), AlterThenRead];
      const { result } = await plan(migrations, [CreateItems], { lockTimeoutMs: 5_000 });
      expect(result.migrations.map((m) => m.error)).toEqual(new Array(7).fill(undefined));
      expect(result.complete).toBe(true);
      expect(await t.db.query('SELECT COUNT(*) AS n FROM items')).toEqual([{ n: t.kind === 'postgres' ? '0' : 0 }]);
      expect(
        (
          await t.db.query(
            t.kind === 'postgres'
              ? `SELECT column_name FROM information_schema.columns WHERE table_name = 'items' ORDER BY 1`
              : `SELECT name AS column_name FROM pragma_table_info('items') ORDER BY 1`,
          )
        ).map((r) => r['column_name']),
      ).toEqual(['id', 'label']);
      expect(await t.db.recorded()).toEqual(['CreateItems1700000000001']);
    });

    it.each([
      ['commitTransaction()', (q: QueryRunner) => q.commitTransaction(), /commits the transaction it runs in \(commitTransaction\(\)\)/],
      ['COMMIT in its SQL', (q: QueryRunner) => q.query('COMMIT'), /sends "COMMIT", which ends the transaction it runs in/],
      ['rollbackTransaction() then more SQL', (q: QueryRunner) => q.rollbackTransaction(), /rolls back the transaction it runs in/],
    ])(
      'a migration that ends the transaction itself (%s) stops the plan before it does, and nothing is kept',
      async (_what, end, reason) => {
        const Ends = defineMigration('EndsTransaction1700000000002', async (q) => {
          await q.query(`INSERT INTO items (id, label) VALUES (10, 'before')`);
          await end(q);
          await q.query(`INSERT INTO items (id, label) VALUES (11, 'after')`);
        });
        const After = defineMigration('After1700000000003', sql('CREATE TABLE after_it (id INT)'));
        const { result, app } = await plan([CreateItems, Ends, After], [CreateItems]);
        expect(result.complete).toBe(false);
        expect(result.migrations).toHaveLength(1);
        expect(result.migrations[0]!.error).toMatch(reason);
        expect(await t.db.query('SELECT COUNT(*) AS n FROM items')).toEqual([{ n: t.kind === 'postgres' ? '0' : 0 }]);
        expect(await t.db.tables()).not.toContain('after_it');
        expect(app.logger.messages('error').join('\n')).toMatch(
          /plan incomplete: stopped at migration 1 of 2, "EndsTransaction1700000000002": .*Nothing was kept/,
        );
      },
    );

    it('a migration still busy past the deadline is abandoned: the plan stops, and what it sends later is refused', async () => {
      let release!: () => void;
      const busy = new Promise<void>((resolve) => (release = resolve));
      let late: unknown;
      let lateSettled!: () => void;
      const lateAnswered = new Promise<void>((resolve) => (lateSettled = resolve));
      const Busy = defineMigration('BusyOutside1700000000002', async (q) => {
        await busy;
        late = await q.query(`INSERT INTO items (id, label) VALUES (20, 'late')`).catch((error: unknown) => error);
        lateSettled();
      });
      const started = Date.now();
      const { result } = await plan([CreateItems, Busy], [CreateItems], { timeoutMs: 500 });
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(result.complete).toBe(false);
      expect(result.migrations[0]!.error).toMatch(/deadline of 500 ms ran out in this migration/);
      release();
      // The abandoned migration goes on by itself: wait for its late query's answer.
      await lateAnswered;
      expect(String(late)).toMatch(/the dry run has ended; this query was not sent/);
      expect(await t.db.query('SELECT COUNT(*) AS n FROM items')).toEqual([{ n: t.kind === 'postgres' ? '0' : 0 }]);
    });
  },
  ['postgres', 'sqlite'],
);

describeEachDatabase(
  'plan cannot hang on PostgreSQL',
  (t) => {
    it('a statement that waits for a lock another session holds in the shadow (a copy given by URL) stops the plan after lockTimeoutMs, naming that session', async () => {
      t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [CreateItems] }], migrator: { runMigrations: true } }));
      const copy = await createTestDatabase('postgres');
      t.track(await bootApp({ dataSources: [{ db: copy, migrations: [CreateItems] }], migrator: { runMigrations: true } }));
      const blocker = new pg.Client({ connectionString: copy.url, application_name: 'am-test-blocker' });
      await blocker.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query('LOCK TABLE items IN ACCESS SHARE MODE');
        const Alter = defineMigration('AlterItems1700000000002', sql('ALTER TABLE items ADD COLUMN note TEXT'));
        const app = t.track(
          await bootApp({ dataSources: [{ db: t.db, migrations: [CreateItems, Alter] }], migrator: { runMigrations: false } }),
        );
        const started = Date.now();
        const [result] = await app.app.get(AutoMigratorService).plan({ lockTimeoutMs: 1_500, shadow: { url: copy.url } });
        expect(Date.now() - started).toBeLessThan(30_000);
        expect(result!.complete).toBe(false);
        expect(result!.migrations[0]!.error).toMatch(
          /lock timeout.*waited longer than the dry run's lock timeout of 1500 ms; blocked by PostgreSQL session pid \d+ \(application "am-test-blocker", user "postgres", idle in transaction for \d+ s\)/,
        );
      } finally {
        await blocker.query('ROLLBACK').catch(() => undefined);
        await blocker.end();
        await copy.drop();
      }
    });

    it('a statement past the deadline is cancelled, and the plan says so', async () => {
      t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [CreateItems] }], migrator: { runMigrations: true } }));
      const Slow = defineMigration('Slow1700000000002', sql(`INSERT INTO items (id, label) VALUES (1, 'x')`, 'SELECT pg_sleep(60)'));
      const app = t.track(
        await bootApp({ dataSources: [{ db: t.db, migrations: [CreateItems, Slow] }], migrator: { runMigrations: false } }),
      );
      const started = Date.now();
      const [result] = await app.app.get(AutoMigratorService).plan({ timeoutMs: 1_000 });
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(result!.complete).toBe(false);
      expect(result!.migrations[0]!.error).toMatch(/canceling statement .*: the dry run's deadline of 1000 ms ran out in this migration/);
      expect(await t.db.query('SELECT COUNT(*) AS n FROM items')).toEqual([{ n: '0' }]);
    });
  },
  ['postgres'],
);
