import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { DataSource, type QueryRunner } from 'typeorm';
import {
  AutoMigratorConfigError,
  AutoMigratorService,
  ContinueOnFailureStrategy,
  MigrationStrategy,
  TenantMigrationsError,
  TenantSource,
  type AutoMigratorModuleOptions,
  type MigrationContext,
  type TenantMigrationOptions,
} from '../../lib/index.js';
import { createTestDatabase } from '../support/databases.js';
import { describeEachDatabase } from '../support/database-suite.js';
import { defineMigration, sql } from '../support/migrations.js';
import { startNode, startTogether } from '../support/processes.js';
import { recordQueries } from '../support/recorded-queries.mjs';
import { bootApp, waitFor } from '../support/test-app.js';
// Plain JS fixtures shared with the multi-process test and the benchmark.
import { globalMigrations, tenantMigrations } from '../fixtures/tenant-migrations.mjs';

const TENANT_NAMES = ['CreateOrders1700000000101', 'CreateInvoices1700000000102', 'SeedOrder1700000000103'];
const tenantNames = (count: number, prefix = 'tenant_') =>
  Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);

/** Module options with tenants listed from the global "tenants" table, and the fixture tenant migrations. */
function tenantOptions(
  overrides: Partial<TenantMigrationOptions> & Pick<AutoMigratorModuleOptions, 'strategy' | 'runMigrations'> = {},
): AutoMigratorModuleOptions {
  const { strategy, runMigrations = true, ...tenants } = overrides;
  return {
    runMigrations,
    ...(strategy ? { strategy } : {}),
    dataSources: [
      {
        name: 'default',
        tenants: {
          list: async (dataSource) =>
            ((await dataSource.query('SELECT name FROM tenants ORDER BY name')) as Array<{ name: string }>).map((row) => row.name),
          migrations: tenantMigrations,
          ...tenants,
        },
      },
    ],
  };
}

/** The check's finding on the largest tenant's table (globex.orders, 100,000 rows and the seed's one): its index build blocks writes. */
const blockingIndexOnGlobexOrders = () =>
  expect.objectContaining({
    rule: 'blocking-index',
    severity: 'error',
    table: 'globex.orders',
    message: expect.stringMatching(/Building the index on globex\.orders \(about 100,001 rows/),
  });

describeEachDatabase(
  'schema-per-tenant migrations',
  (t) => {
    async function boot(options: AutoMigratorModuleOptions, migrations = globalMigrations) {
      return t.track(await bootApp({ dataSources: [{ db: t.db, migrations }], migrator: options }));
    }
    async function addTenants(names: string[]) {
      await t.db.query(`INSERT INTO tenants (name) VALUES ${names.map((name) => `('${name}')`).join(', ')}`);
    }
    const tablesIn = async (schema: string) =>
      (
        await t.db.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = '${schema}' ORDER BY 1`)
      ).map((r) => r.t);
    /** Three tenant replicas (a slow step of `slowMs` per tenant, debug lines on), released at once on `count` new tenants. */
    async function startReplicasOnTenants(count: number, slowMs: number) {
      await boot({ runMigrations: true });
      const tenants = tenantNames(count);
      await addTenants(tenants);
      const replicas = [0, 1, 2].map(() =>
        startNode(
          join(import.meta.dirname, '../fixtures/tenant-replica.mjs'),
          { DB_URL: t.db.url, SLOW_TENANT_MS: String(slowMs), VERBOSE: '1' },
          { barrier: true },
        ),
      );
      await startTogether(replicas);
      return { tenants, replicas };
    }
    const recordedIn = async (schema: string) =>
      (await t.db.query<{ name: string }>(`SELECT name FROM "${schema}".migrations ORDER BY id`)).map((r) => r.name);

    it('50 tenants: schemas created, unqualified SQL and the schema API land in each tenant, each migrations table holds exactly its migrations', async () => {
      await boot({ runMigrations: true }); // the global migration creates the tenants table
      const tenants = tenantNames(50);
      await addTenants(tenants);
      const app = await boot(tenantOptions());

      for (const tenant of tenants) {
        expect(await tablesIn(tenant)).toEqual(['invoices', 'migrations', 'migrations_checksums', 'orders']);
        expect(await recordedIn(tenant)).toEqual(TENANT_NAMES);
        expect(await t.db.query(`SELECT total FROM "${tenant}".orders`)).toEqual([{ total: 42 }]);
      }
      expect(
        await t.db.query(
          `SELECT column_name AS c FROM information_schema.columns WHERE table_schema = 'tenant_007' AND table_name = 'invoices' ORDER BY 1`,
        ),
      ).toEqual([{ c: 'amount' }, { c: 'id' }]);
      // Nothing leaked into public, which keeps the global migrations and the tenants' summary (on by default).
      expect(await tablesIn('public')).toEqual(['auto_migrator_tenants', 'migrations', 'migrations_checksums', 'tenants']);
      expect(await t.db.recorded()).toEqual(['CreateTenants1700000000001']);
      const readiness = await app.app.get(AutoMigratorService).getReadiness();
      expect(readiness).toMatchObject({
        ready: true,
        dataSources: { default: { state: 'done', tenants: { total: 50, done: 50, failed: 0, inProgress: 0 } } },
      });
      expect(app.logger.messages('log')).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^DataSource "default": tenants: 50 done, 0 failed; 150 migration\(s\) applied in \d+ ms$/),
        ]),
      );
    });

    it('a DataSource with tenants and no migrations option of its own boots as docs/tenants.md writes it (no allowNoMigrations)', async () => {
      await t.db.query(`CREATE TABLE tenants (name text PRIMARY KEY); INSERT INTO tenants VALUES ('acme'), ('globex')`);
      t.track(await bootApp({ dataSources: [{ db: t.db, migrations: undefined as never }], migrator: tenantOptions() }));
      for (const tenant of ['acme', 'globex']) expect(await recordedIn(tenant)).toEqual(TENANT_NAMES);
      // A migrations option that resolves to none is still refused: it names something that is not there.
      await expect(
        bootApp({ dataSources: [{ db: t.db, migrations: ['no-such-dir/*.js'] as never }], migrator: tenantOptions() }),
      ).rejects.toThrow(/no migrations found/);
    });

    it('a long tenant run is not silent: progress lines say how many tenants are finished and left', async () => {
      await boot({ runMigrations: true });
      await addTenants(['acme', 'globex', 'initech', 'umbrella', 'hooli', 'wonka']);
      let release = false;
      const HoldsAcme = defineMigration('HoldsAcme1700000000105', async (queryRunner) => {
        const [{ schema }] = (await queryRunner.query('SELECT current_schema() AS schema')) as [{ schema: string }];
        while (schema === 'acme' && !release) await new Promise((resolve) => setTimeout(resolve, 20));
      });
      const app = await boot({
        ...tenantOptions({ migrations: [...tenantMigrations, HoldsAcme], concurrency: 2 }),
        mode: 'background',
        progressEveryMs: 100,
      });
      try {
        await waitFor(
          () =>
            app.logger.entries.find((entry) =>
              /^DataSource "default": tenants 5 of 6 finished \(5 done, 0 failed\), 1 left/.test(entry.message),
            ),
          60_000,
          'a tenants progress line with 5 finished',
        );
      } finally {
        release = true;
      }
      await app.app.get(AutoMigratorService).whenFinished();
      expect(await recordedIn('acme')).toEqual([...TENANT_NAMES, 'HoldsAcme1700000000105']);
    });

    it('a new tenant and a new tenant migration: the next boot runs only the new work', async () => {
      await boot({ runMigrations: true });
      await addTenants(['acme', 'globex']);
      await boot(tenantOptions());
      await addTenants(['initech']);
      const AddNotes = defineMigration('AddNotes1700000000104', sql('CREATE TABLE notes (id INT PRIMARY KEY)'));
      const app = await boot(tenantOptions({ migrations: [...tenantMigrations, AddNotes] }));
      const applied = Object.fromEntries(
        app.app
          .get(AutoMigratorService)
          .getState()
          .filter((s) => s.tenant)
          .map((s) => [s.tenant!.name, s.applied]),
      );
      expect(applied).toEqual({
        acme: ['AddNotes1700000000104'],
        globex: ['AddNotes1700000000104'],
        initech: [...TENANT_NAMES, 'AddNotes1700000000104'],
      });
      expect(await recordedIn('acme')).toEqual([...TENANT_NAMES, 'AddNotes1700000000104']);
    });

    it("check: the pending tenant migrations run once, in the shadow, on the largest tenant's schema, graded by its tables; the live tenants untouched", async () => {
      await boot({ runMigrations: true });
      await addTenants(['acme', 'globex', 'initech']);
      await boot(tenantOptions());
      // globex is the largest tenant: 100,000 orders.
      await t.db.query('INSERT INTO globex.orders (total) SELECT g % 100 FROM generate_series(1, 100000) AS g');
      await t.db.query('ANALYZE globex.orders');
      const IndexTotals = defineMigration('IndexTotals1700000000104', sql('CREATE INDEX orders_total ON orders (total)'));
      const app = await boot(tenantOptions({ runMigrations: false, migrations: [...tenantMigrations, IndexTotals] }));
      const results = await app.app.get(AutoMigratorService).check();
      expect(results).toEqual([
        { dataSource: 'default', findings: [], checked: [], unchecked: [] },
        {
          dataSource: 'default',
          tenants: { checkedOn: 'globex', listed: 3 },
          checked: ['IndexTotals1700000000104'],
          unchecked: [],
          findings: [
            // The seed migration's order too.
            blockingIndexOnGlobexOrders(),
          ],
        },
      ]);
      for (const tenant of ['acme', 'globex', 'initech']) {
        expect(await t.db.query(`SELECT indexname FROM pg_indexes WHERE schemaname = '${tenant}' AND indexname = 'orders_total'`)).toEqual(
          [],
        );
        expect(await recordedIn(tenant)).toEqual(TENANT_NAMES);
      }
    });

    it('check: a live tenant table locked by another session (a migration running) is not waited on: its size is read from the catalog', async () => {
      await boot({ runMigrations: true });
      await addTenants(['acme', 'globex']);
      await boot(tenantOptions());
      await t.db.query('INSERT INTO globex.orders (total) SELECT g % 100 FROM generate_series(1, 100000) AS g');
      await t.db.query('ANALYZE globex.orders');
      const IndexTotals = defineMigration('IndexTotals1700000000104', sql('CREATE INDEX orders_total ON orders (total)'));
      const app = await boot(tenantOptions({ runMigrations: false, migrations: [...tenantMigrations, IndexTotals] }));
      // Another session holds ACCESS EXCLUSIVE on the largest tenant's table: a size read on disk
      // (pg_total_relation_size, pg_relation_size) would wait for it to commit.
      const holder = new pg.Client({ connectionString: t.db.url });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('LOCK TABLE globex.orders IN ACCESS EXCLUSIVE MODE');
        let stop: (() => void) | undefined;
        const stuck = new Promise<'waited on the lock'>((resolve) => {
          const timer = setTimeout(() => resolve('waited on the lock'), 30_000);
          stop = () => clearTimeout(timer);
        });
        const results = await Promise.race([app.app.get(AutoMigratorService).check(), stuck]).finally(() => stop?.());
        expect(results).not.toBe('waited on the lock');
        expect(results).toEqual([
          expect.objectContaining({ dataSource: 'default', findings: [] }),
          expect.objectContaining({
            tenants: { checkedOn: 'globex', listed: 2 },
            findings: [blockingIndexOnGlobexOrders()],
          }),
        ]);
        // The holder's transaction was not disturbed.
        expect((await holder.query('SELECT count(*)::int AS n FROM globex.orders')).rows).toEqual([{ n: 100_001 }]);
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        await holder.end();
      }
    });

    it("checksums in each tenant's schema, recorded as applied; an edited tenant migration is changed in every tenant's status until accepted", async () => {
      await boot({ runMigrations: true });
      await addTenants(['acme', 'globex']);
      await boot(tenantOptions());
      expect(await t.db.query(`SELECT name, origin FROM acme.migrations_checksums ORDER BY name`)).toEqual(
        [...TENANT_NAMES].sort().map((name) => ({ name, origin: 'applied' })),
      );
      /** CreateOrders as edited after it ran: a wider column. */
      class EditedOrders {
        name = 'CreateOrders1700000000101';
        async up(q: QueryRunner) {
          await q.query('CREATE TABLE orders (id SERIAL PRIMARY KEY, total BIGINT NOT NULL)');
        }
        async down() {}
      }
      const app = await boot(tenantOptions({ runMigrations: false, migrations: [EditedOrders, ...tenantMigrations.slice(1)] }));
      const statuses = await app.app.get(AutoMigratorService).status({ tenants: true });
      expect(statuses.map((status) => [status.tenant ?? '-', status.changed.map((changed) => changed.name)])).toEqual([
        ['-', []],
        ['acme', ['CreateOrders1700000000101']],
        ['globex', ['CreateOrders1700000000101']],
      ]);
      await addTenants(['initech']); // listed, never migrated: nothing to accept there
      await expect(
        app.app.get(AutoMigratorService).resolve({ migration: 'CreateOrders1700000000101', as: 'applied', tenants: true }),
      ).rejects.toThrow(/resolve with tenants only accepts a change/);
      const accepted = await app.app
        .get(AutoMigratorService)
        .resolve({ migration: 'CreateOrders1700000000101', as: 'change-accepted', tenants: true });
      expect(accepted).toMatchObject({ resolvedAs: 'change-accepted', tenants: { accepted: ['acme', 'globex'], notApplied: ['initech'] } });
      const after = await app.app.get(AutoMigratorService).status({ tenants: true });
      expect(after.flatMap((status) => status.changed)).toEqual([]);
      // Read before taking a session: the tenant never migrated got no schema.
      expect(await t.db.query(`SELECT nspname FROM pg_namespace WHERE nspname = 'initech'`)).toEqual([]);
      expect(await t.db.query(`SELECT origin FROM globex.migrations_checksums WHERE name = 'CreateOrders1700000000101'`)).toEqual([
        { origin: 'accepted' },
      ]);
    });

    /** Boots with the tenants of `options`, recording every statement sent. */
    async function bootRecorded(options: AutoMigratorModuleOptions) {
      const { queries, logger } = recordQueries();
      const app = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: globalMigrations, options: { logging: 'all', logger } }],
          migrator: options,
        }),
      );
      return { app, queries };
    }

    it('a restart with every tenant up to date: one statement over the catalog and the summary, no tenant table opened', async () => {
      await boot({ runMigrations: true });
      const tenants = tenantNames(60);
      await addTenants(tenants);
      await boot(tenantOptions());
      const { app, queries } = await bootRecorded(tenantOptions());
      expect(await app.app.get(AutoMigratorService).getReadiness()).toMatchObject({
        ready: true,
        dataSources: { default: { state: 'done', tenants: { total: 60, done: 60, failed: 0 } } },
      });
      // TypeORM's two at connect, the tenant list, the DataSource's own check, then one transaction:
      // whether the summary exists, and the summary: 8 whatever the number of tenants (the bench
      // counts them at 10,000).
      expect(queries.length, queries.join('\n')).toBeLessThanOrEqual(8);
      expect(queries.filter((query) => /tenant_\d{3}/.test(query))).toEqual([]);
      // The summary is read with JIT compilation off, for that transaction alone: at 10,000 tenants
      // the plan's estimate crossed jit_above_cost, and compiling took 4 times as long as the read.
      const read = queries.findIndex((query) => query.includes('"hasTable"'));
      const jitOff = queries.findIndex((query) => query.includes(`set_config('jit', 'off', true)`));
      expect(queries.slice(jitOff - 1, read + 2).map((query) => query.split(' ')[0])).toEqual(['START', 'SELECT', 'SELECT', 'COMMIT']);
    });

    it('summaryTable: false: no summary, trigger or function; a restart reads the tenants in a bounded number of statements', async () => {
      await boot({ runMigrations: true });
      await addTenants(tenantNames(120));
      await boot(tenantOptions({ summaryTable: false }));
      const { app, queries } = await bootRecorded(tenantOptions({ summaryTable: false }));
      expect(await app.app.get(AutoMigratorService).getReadiness()).toMatchObject({ ready: true });
      // TypeORM's two at connect, the tenant list, the DataSource's own check, one catalog query and two reads for the 120.
      expect(queries.length, queries.join('\n')).toBeLessThanOrEqual(7);
      // Each read opens at most 100 tables and leaves the counting to the process: 750 tables read
      // at once took 2.5x as long, and a count over them went to parallel workers, 3-4x (bench/README.md).
      const reads = queries.filter((query) => /FROM "tenant_\d+"\."migrations" UNION ALL/.test(query));
      expect(reads.map((query) => query.match(/ UNION ALL /g)!.length + 1)).toEqual([100, 20]);
      expect(reads.filter((query) => /count\(/.test(query))).toEqual([]);
      expect(
        await t.db.query(
          `SELECT (SELECT count(*) FROM pg_class WHERE relname = 'auto_migrator_tenants')::int AS tables, ` +
            `(SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'auto_migrator%')::int AS triggers, ` +
            `(SELECT count(*) FROM pg_proc WHERE proname LIKE 'auto_migrator%')::int AS functions`,
        ),
      ).toEqual([{ tables: 0, triggers: 0, functions: 0 }]);
      await app.close();
      // The same database under the default: the first restart summarises the tenants it reads, the next opens none.
      await boot(tenantOptions());
      const { queries: after } = await bootRecorded(tenantOptions());
      expect(after.filter((query) => /tenant_\d{3}/.test(query))).toEqual([]);
      expect(await t.db.query(`SELECT count(*)::int AS rows FROM auto_migrator_tenants`)).toEqual([{ rows: 120 }]);
    });

    it('the summary is trusted only while its trigger keeps it exact: a hand-deleted record, a disabled trigger, a recreated table all get the migration again, once', async () => {
      await boot({ runMigrations: true });
      await addTenants(['acme', 'globex', 'initech', 'umbrella']);
      await boot(tenantOptions());
      const seed = 'SeedOrder1700000000103';
      await t.db.query(
        // A hand edit: the trigger brings the summary up to date.
        `DELETE FROM acme.migrations WHERE name = '${seed}'; DELETE FROM acme.orders; ` +
          // The trigger off: the summary still says "up to date", and is not trusted.
          `ALTER TABLE globex.migrations DISABLE TRIGGER auto_migrator_summary_delete; DELETE FROM globex.migrations WHERE name = '${seed}'; DELETE FROM globex.orders; ` +
          // Another table in its place, as a restore makes it (rows, then the trigger): the summary describes the old one, and is not trusted.
          `ALTER TABLE initech.migrations RENAME TO migrations_before; CREATE TABLE initech.migrations (LIKE initech.migrations_before INCLUDING ALL); ` +
          `INSERT INTO initech.migrations SELECT * FROM initech.migrations_before WHERE name <> '${seed}'; DELETE FROM initech.orders; ` +
          [
            ['insert', 'INSERT', 'REFERENCING NEW TABLE AS added'],
            ['update', 'UPDATE', 'REFERENCING OLD TABLE AS removed NEW TABLE AS added'],
            ['delete', 'DELETE', 'REFERENCING OLD TABLE AS removed'],
            ['truncate', 'TRUNCATE', ''],
          ]
            .map(
              ([name, event, transition]) =>
                `CREATE TRIGGER auto_migrator_summary_${name} AFTER ${event} ON initech.migrations ${transition} FOR EACH STATEMENT EXECUTE PROCEDURE auto_migrator_tenant_changed()`,
            )
            .join('; '),
      );
      const { queries } = await bootRecorded(tenantOptions());
      for (const tenant of ['acme', 'globex', 'initech']) {
        expect(await recordedIn(tenant), tenant).toEqual(TENANT_NAMES);
        expect(await t.db.query(`SELECT total FROM "${tenant}".orders`), tenant).toEqual([{ total: 42 }]);
      }
      // The untouched tenant was answered by the summary: its table was not opened.
      expect(queries.filter((query) => query.includes('"umbrella"'))).toEqual([]);
      // The recreated table's row describes it now.
      expect(
        await t.db.query(
          `SELECT s.schema_name AS tenant FROM auto_migrator_tenants s JOIN pg_trigger g ON g.tgrelid = s.table_oid ` +
            `WHERE g.tgname = 'auto_migrator_summary_insert' AND s.table_oid = 'initech.migrations'::regclass AND s.recorded = 3`,
        ),
      ).toEqual([{ tenant: 'initech' }]);
    });

    it('the summary row stays exact through inserts, updates, deletes, a truncate and two writers at once', async () => {
      await boot({ runMigrations: true });
      await addTenants(['acme']);
      await boot(tenantOptions());
      const summary = async () =>
        (
          await t.db.query<{ same: boolean; recorded: number }>(
            `SELECT s.recorded, s.names_hash = (SELECT coalesce(sum(hashtextextended(name, 0)), 0) FROM acme.migrations) ` +
              `AND s.recorded = (SELECT count(*) FROM acme.migrations) AS same FROM auto_migrator_tenants s WHERE s.schema_name = 'acme'`,
          )
        )[0];
      expect(await summary()).toEqual({ recorded: 3, same: true });
      await t.db.query(`INSERT INTO acme.migrations (timestamp, name) VALUES (1, 'a1'), (2, 'a2')`);
      await t.db.query(`UPDATE acme.migrations SET name = name || '_renamed' WHERE name = 'a1'`);
      await t.db.query(`DELETE FROM acme.migrations WHERE name = 'a2'`);
      expect(await summary()).toEqual({ recorded: 4, same: true });
      // Two transactions at once: the second waits for the first's hold on the row, then adds its own difference.
      const [first, second] = [new pg.Client({ connectionString: t.db.url }), new pg.Client({ connectionString: t.db.url })];
      await Promise.all([first.connect(), second.connect()]);
      try {
        await first.query(`BEGIN; INSERT INTO acme.migrations (timestamp, name) VALUES (3, 'b1')`);
        const secondWrites = second.query(
          `BEGIN; DELETE FROM acme.migrations WHERE name = 'a1_renamed'; INSERT INTO acme.migrations (timestamp, name) VALUES (4, 'b2')`,
        );
        const pid = (second as unknown as { processID: number }).processID;
        await waitFor(
          async () => (await t.db.query(`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid} AND wait_event_type = 'Lock'`)).length > 0,
        );
        await first.query('COMMIT');
        await secondWrites;
        await second.query('COMMIT');
      } finally {
        await Promise.all([first.end(), second.end()]);
      }
      expect(await summary()).toEqual({ recorded: 5, same: true });
      await t.db.query(`TRUNCATE acme.migrations`);
      expect(await summary()).toEqual({ recorded: 0, same: true });
    });

    it("the library's own writes do not fire the summary's triggers: it recounts the row at unlock, and a run that dies before that leaves it untrusted", async () => {
      await boot({ runMigrations: true });
      const tenants = ['acme', 'globex', 'initech'];
      await addTenants(tenants);
      await boot(tenantOptions());
      const AddNotes = defineMigration('AddNotes1700000000104', sql('CREATE TABLE notes (id INT)'));
      const withNotes = tenantOptions({ migrations: [...tenantMigrations, AddNotes] });
      const exactRows = async () =>
        (
          await t.db.query<{ tenant: string }>(
            `SELECT s.schema_name AS tenant FROM auto_migrator_tenants s WHERE s.table_oid = to_regclass(format('%I.migrations', s.schema_name)) ` +
              `AND s.recorded = 4 AND s.names_hash = (SELECT sum(hashtextextended(k, 0)) FROM unnest(ARRAY[${[...TENANT_NAMES, 'AddNotes1700000000104'].map((name) => `'${name}'`).join(', ')}]) AS k) ORDER BY 1`,
          )
        ).map((row) => row.tenant);
      // From here on, a trigger that fires fails the statement that fired it.
      const [original] = await t.db.query<{ definition: string }>(
        `SELECT pg_get_functiondef('auto_migrator_tenant_changed()'::regprocedure) AS definition`,
      );
      if (!original) throw new Error('auto_migrator_tenant_changed() is missing');
      await t.db.query(
        `CREATE OR REPLACE FUNCTION auto_migrator_tenant_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'a summary trigger fired'; END $$`,
      );
      await boot(withNotes);
      for (const tenant of tenants) expect(await recordedIn(tenant), tenant).toEqual([...TENANT_NAMES, 'AddNotes1700000000104']);
      expect(await exactRows()).toEqual(tenants);
      await t.db.query(original.definition);
      // A run that dies between its writes and its unlock (here: a session that says it writes acme,
      // deletes a record there and in globex, and is gone): acme's row is untrusted, and globex's
      // trigger fired (the setting names acme only).
      const session = new pg.Client({ connectionString: t.db.url });
      await session.connect();
      await session.query(`SELECT auto_migrator_tenant_writing('acme', 'migrations')`);
      for (const tenant of ['acme', 'globex']) {
        await session.query(`DELETE FROM ${tenant}.migrations WHERE name = 'AddNotes1700000000104'; DROP TABLE ${tenant}.notes`);
      }
      await session.end();
      const { queries } = await bootRecorded(withNotes);
      for (const tenant of tenants) expect(await recordedIn(tenant), tenant).toEqual([...TENANT_NAMES, 'AddNotes1700000000104']);
      expect(queries.filter((query) => query.includes('"initech"'))).toEqual([]);
      expect(await exactRows()).toEqual(tenants);
    });

    it('a deploy adding one migration to every tenant: no information_schema scan (to_regclass instead), a bounded number of statements per tenant', async () => {
      await boot({ runMigrations: true });
      const tenants = tenantNames(20);
      await addTenants(tenants);
      await boot(tenantOptions());
      const { queries, logger } = recordQueries();
      // What the migration's session is set to: the server checks for a lost client every second.
      const AddNotes = defineMigration(
        'AddNotes1700000000104',
        sql(`CREATE TABLE notes AS SELECT current_setting('client_connection_check_interval') AS check_interval`),
      );
      const deploy = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: globalMigrations, options: { logging: 'all', logger, extra: { max: 10 } } }],
          migrator: tenantOptions({ migrations: [...tenantMigrations, AddNotes] }),
        }),
      );
      const sent = [...queries];
      // The pool's connections are the application's again: every setting the sessions made is reset.
      const settings = await Promise.all(
        Array.from({ length: 10 }, () =>
          deploy.app
            .get(DataSource)
            .query(
              `SELECT current_setting('search_path') AS path, current_setting('client_connection_check_interval') AS check, ` +
                `coalesce(current_setting('auto_migrator.summary_writer', true), '') AS writer, pg_sleep(0.05)`,
            ),
        ),
      );
      expect(new Set(settings.map(([row]) => `${row.path} / ${row.check} / ${row.writer}`))).toEqual(new Set(['"$user", public / 0 / ']));
      await deploy.close();
      for (const tenant of tenants) {
        expect(await recordedIn(tenant)).toEqual([...TENANT_NAMES, 'AddNotes1700000000104']);
        expect(await t.db.query(`SELECT check_interval FROM "${tenant}".notes`)).toEqual([{ check_interval: '1s' }]);
      }
      expect(sent.filter((query) => /information_schema/.test(query))).toEqual([]);
      // Each pooled connection is asked who it is once, not once per tenant (8 tenants at a time).
      expect(sent.filter((query) => query.includes('pg_backend_pid() AS id')).length).toBeLessThanOrEqual(8);
      // The work itself is 4 statements (begin, the DDL, the record, commit); 18 per tenant, then 16,
      // before the lock was taken first and what is pending read once under it (with whether the
      // marker table exists), the session's settings went with its first statement and were reset
      // with the unlock, and the database's name was asked once per pool. Up to 10 are the boot's
      // own (the DataSource's checks, the tenant list, the summary).
      const perTenant = (sent.length - 10) / tenants.length;
      console.log(`[tenants] deploy of one migration: ${sent.length} statements for ${tenants.length} tenants`);
      expect(perTenant, sent.slice(0, 40).join('\n')).toBeLessThanOrEqual(9);
    });

    it('one tenant whose migration fails: the others are migrated, readiness names the failed one; FailFast reports it after all', async () => {
      await boot({ runMigrations: true });
      const tenants = tenantNames(12);
      await addTenants(tenants);
      const FailsForOne = defineMigration('FailsForOne1700000000105', async (q) => {
        const rows = (await q.query('SELECT current_schema() AS schema')) as Array<{ schema: string }>;
        if (rows[0]?.schema === 'tenant_005') await q.query('SELECT * FROM no_such_table');
      });
      const migrations = [...tenantMigrations, FailsForOne];

      const failFast = bootApp({ dataSources: [{ db: t.db, migrations: globalMigrations }], migrator: tenantOptions({ migrations }) });
      await expect(failFast).rejects.toBeInstanceOf(TenantMigrationsError);
      await expect(failFast).rejects.toMatchObject({ dataSource: 'default', total: 12, failed: [{ tenant: 'tenant_005' }] });
      for (const tenant of tenants) {
        expect(await recordedIn(tenant)).toEqual(tenant === 'tenant_005' ? TENANT_NAMES : [...TENANT_NAMES, 'FailsForOne1700000000105']);
      }

      const app = await boot(tenantOptions({ migrations, strategy: ContinueOnFailureStrategy }));
      const readiness = await app.app.get(AutoMigratorService).getReadiness();
      expect(readiness).toMatchObject({
        ready: false,
        dataSources: { default: { state: 'done', tenants: { total: 12, done: 11, failed: 1, failedTenants: ['tenant_005'] } } },
      });
      // The strategy's own line names the tenant (context.label).
      expect(app.logger.messages('error').join('\n')).toContain(
        'DataSource "default", tenant "tenant_005": continuing without its pending migrations',
      );
      await app.close();

      const relaxed = await boot(tenantOptions({ migrations, strategy: ContinueOnFailureStrategy, affectReadiness: false }));
      expect((await relaxed.app.get(AutoMigratorService).getReadiness()).ready).toBe(true);
    });

    it('two processes booting at once on the same tenants run each tenant migration once', async () => {
      await boot({ runMigrations: true });
      const tenants = tenantNames(20);
      await addTenants(tenants);
      const processes = [0, 1].map(() =>
        startNode(join(import.meta.dirname, '../fixtures/tenant-replica.mjs'), { DB_URL: t.db.url }, { barrier: true }),
      );
      await startTogether(processes);
      const codes = await Promise.all(processes.map((p) => p.exited));
      expect(codes, processes.map((p) => p.output()).join('\n---\n')).toEqual([0, 0]);
      for (const tenant of tenants) {
        expect(await recordedIn(tenant)).toEqual(TENANT_NAMES);
        expect(await t.db.query(`SELECT total FROM "${tenant}".orders`)).toEqual([{ total: 42 }]);
      }
    });

    const dealsLeft = async () =>
      (await t.db.query<{ relname: string }>(`SELECT relname FROM pg_class WHERE relname LIKE 'auto_migrator_deal_%'`)).map(
        (row) => row.relname,
      );

    it('three replicas share the tenants out: none reads or waits on a tenant another did, but for what the others had in flight at the end; each migration once', async () => {
      const { tenants, replicas } = await startReplicasOnTenants(48, 150);
      const codes = await Promise.all(replicas.map((p) => p.exited));
      const outputs = replicas.map((p) => p.output());
      expect(codes, outputs.join('\n---\n')).toEqual([0, 0, 0]);
      for (const tenant of tenants) expect(await recordedIn(tenant)).toEqual([...TENANT_NAMES, 'SlowTenantStep1700000000109']);
      // Who applied each tenant's slow step: every tenant exactly once, and every replica a share.
      const applied = outputs.map((output) =>
        [...output.matchAll(/tenant "(tenant_\d+)": \[\d+\/\d+\] SlowTenantStep1700000000109 applied/g)].map((m) => m[1]),
      );
      expect(applied.flat().sort()).toEqual(tenants);
      for (const share of applied) expect(share.length).toBeGreaterThan(0);
      // The tenants are dealt out: a replica opens a tenant another did (reads it, finds nothing
      // pending) or waits for its lock only at the end, for what the two others still have in flight
      // (4 each). Walking the list instead, each replica read every tenant the others did (about 32).
      const waits = outputs.map((output) => output.match(/tenant "tenant_\d+": waiting for /g)?.length ?? 0);
      const readDone = outputs.map((output) => output.match(/tenant "tenant_\d+": no pending migrations/g)?.length ?? 0);
      console.log(
        `[tenants] 3 replicas, 48 tenants: shares ${applied.map((share) => share.length).join('/')}, lock waits ${waits.join('/')}, tenants read done ${readDone.join('/')}`,
      );
      for (const count of [...waits, ...readDone]) expect(count).toBeLessThanOrEqual(2 * 4);
      // The deal's sequence is dropped by the first replica that found every tenant dealt.
      expect(await dealsLeft()).toEqual([]);
    });

    it('a replica SIGKILLed mid-run: the others finish its tenants, each migration once', async () => {
      const { tenants, replicas } = await startReplicasOnTenants(48, 300);
      const [doomed, ...survivors] = replicas;
      await waitFor(
        () => /tenant "tenant_\d+": \[\d+\/\d+\] SlowTenantStep1700000000109 applied/.test(doomed!.output()),
        60_000,
        'a tenant done',
      );
      doomed!.child.kill('SIGKILL');
      const codes = await Promise.all(survivors.map((p) => p.exited));
      expect(codes, survivors.map((p) => p.output()).join('\n---\n')).toEqual([0, 0]);
      for (const tenant of tenants) expect(await recordedIn(tenant)).toEqual([...TENANT_NAMES, 'SlowTenantStep1700000000109']);
      expect(await dealsLeft()).toEqual([]);
    });

    it('a hostile tenant name is rejected before anything runs, global migrations included', async () => {
      const boot1 = bootApp({
        dataSources: [{ db: t.db, migrations: globalMigrations }],
        migrator: tenantOptions({ list: () => ['acme', 'x"; DROP SCHEMA public; --'] }),
      });
      await expect(boot1).rejects.toBeInstanceOf(AutoMigratorConfigError);
      await expect(boot1).rejects.toThrow(/tenant #2 "x\\"; DROP SCHEMA public; --" is not a valid tenant schema name.*Nothing was run/);
      expect(await t.db.tables()).toEqual([]);
      expect(await t.db.query(`SELECT nspname FROM pg_namespace WHERE nspname IN ('public', 'acme') ORDER BY 1`)).toEqual([
        { nspname: 'public' },
      ]);
    });

    it.each([
      ['empty', ''],
      ['too long', 'a'.repeat(64)],
      ['a system schema', 'pg_catalog'],
      ['public', 'public'],
    ])('a tenant name that is %s is rejected', async (_what, name) => {
      await expect(
        bootApp({
          dataSources: [{ db: t.db, migrations: globalMigrations }],
          migrator: {
            runMigrations: true,
            dataSources: [{ name: 'default', tenants: { list: () => [name], migrations: tenantMigrations } }],
          },
        }),
      ).rejects.toThrow(/Nothing was run/);
    });

    it('the strategy is called per tenant with the tenant in its context; a TenantSource lists tenants with injection', async () => {
      await boot({ runMigrations: true });
      const seen: string[] = [];
      class Recording extends MigrationStrategy {
        async migrate(context: MigrationContext) {
          seen.push(`${context.dataSourceName}:${context.tenant ?? '-'}:${context.pending.length}`);
          await context.runMigrations();
        }
      }
      class FromTable extends TenantSource {
        async listTenants() {
          return ['north', 'south'];
        }
      }
      await boot({
        runMigrations: true,
        strategy: new Recording(),
        dataSources: [{ name: 'default', tenants: { list: FromTable, migrations: tenantMigrations } }],
      });
      expect(seen.sort()).toEqual(['default:north:3', 'default:south:3']);
    });

    it('status, ensureUp, down to a version and up, with tenants', async () => {
      await boot({ runMigrations: true });
      await addTenants(['acme', 'globex']);
      const app = await boot(tenantOptions({ runMigrations: false }));
      const service = app.app.get(AutoMigratorService);
      await expect(service.ensureUp()).rejects.toMatchObject({ pending: { 'default/acme': TENANT_NAMES, 'default/globex': TENANT_NAMES } });
      const up = await service.up({ tenants: true });
      expect(up.filter((r) => r.tenant).map((r) => [r.tenant, r.status, r.applied.length])).toEqual([
        ['acme', 'done', 3],
        ['globex', 'done', 3],
      ]);
      await service.ensureUp();
      const reverted = await service.downTenants({ to: 'CreateOrders1700000000101' });
      expect(reverted.map((r) => [r.tenant, r.reverted])).toEqual([
        ['acme', ['SeedOrder1700000000103', 'CreateInvoices1700000000102']],
        ['globex', ['SeedOrder1700000000103', 'CreateInvoices1700000000102']],
      ]);
      const statuses = await service.status({ tenants: true });
      expect(statuses.map((s) => [s.tenant ?? '-', s.applied.length, s.pending.length])).toEqual([
        ['-', 1, 0],
        ['acme', 1, 2],
        ['globex', 1, 2],
      ]);
    });
  },
  ['postgres'],
);

describe('tenants on a database that is not PostgreSQL', () => {
  it('fails the boot with a clear message', async () => {
    const db = await createTestDatabase('sqlite');
    try {
      await expect(
        bootApp({
          dataSources: [{ db, migrations: [defineMigration('Own1700000000001', sql('CREATE TABLE own (id INT PRIMARY KEY)'))] }],
          migrator: {
            runMigrations: true,
            dataSources: [
              {
                name: 'default',
                tenants: {
                  list: () => ['a'],
                  migrations: [defineMigration('Tenant1700000000002', sql('CREATE TABLE t (id INT PRIMARY KEY)'))],
                },
              },
            ],
          },
        }),
      ).rejects.toThrow(/DataSource "default" \(type "better-sqlite3"\): the "tenants" option needs PostgreSQL/);
    } finally {
      await db.drop();
    }
  });
});
