import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import {
  AutoMigratorService,
  ContinueOnFailureStrategy,
  MigrationDirtyError,
  MigrationFailedError,
  FailFastStrategy,
  MigrationsHealthIndicator,
  RecreateOnFailureStrategy,
  RetryStrategy,
  type MigrationTransactionMode,
} from '../../lib/index.js';
import { describeEachDatabase, type DatabaseFixture } from '../support/database-suite.js';
import { defineMigration, sql } from '../support/migrations.js';
import { startNode, type RunningProcess } from '../support/processes.js';
import { bootApp, waitFor } from '../support/test-app.js';

const ROOT = join(import.meta.dirname, '../..');
const FIXTURES = join(import.meta.dirname, '../fixtures');
const APP = join(FIXTURES, 'dirty-app.mjs');
const DATA_SOURCE = join(FIXTURES, 'dirty-data-source.mjs');
const BIN = join(ROOT, 'dist/cli/auto-migrator.js');
const SLOW = 'SlowDdl1700000000002';
const THINGS = 'CreateThings1700000000001';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Where the database cannot make a migration and its record atomic: MariaDB commits DDL implicitly
 * (default mode 'each'); PostgreSQL with transaction 'none' runs each statement on its own.
 */
const MODE: Record<'postgres' | 'mariadb', MigrationTransactionMode> = { postgres: 'none', mariadb: 'each' };

describeEachDatabase(
  'a migration started and never finished (dirty)',
  (t) => {
    const transaction = MODE[t.kind as 'postgres' | 'mariadb'];
    const env = () => ({ DIRTY_DB_KIND: t.kind, DIRTY_DB_URL: t.db.url, DIRTY_TRANSACTION: transaction });

    /** The same migrations as the fixture's, in this process; `calls` counts SlowDdl's up() runs. */
    function inProcess() {
      const counter = { calls: 0 };
      const things = defineMigration(THINGS, sql('CREATE TABLE things (id INT PRIMARY KEY)'));
      const slow = defineMigration(SLOW, async (queryRunner) => {
        counter.calls++;
        await sql('CREATE TABLE half_done (id INT PRIMARY KEY)', 'CREATE TABLE second_half (id INT PRIMARY KEY)')(queryRunner);
      });
      return { counter, migrations: [things, slow], options: { migrationsTransactionMode: transaction } };
    }

    function cli(args: string[]): Promise<CliRun> {
      return new Promise((resolve) => {
        const child = spawn(process.execPath, [BIN, ...args, '--data-source', DATA_SOURCE], {
          env: { ...process.env, NO_COLOR: '1', ...env() },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
    }

    async function markers(): Promise<Array<{ name: string; operation: string; started_by: string }>> {
      return t.db.query(`SELECT name, operation, started_by FROM migrations_started ORDER BY name`);
    }

    /** Starts the fixture, waits until SlowDdl ran its first DDL and sleeps, and returns it (still running). */
    async function startUntilMidDdl(): Promise<RunningProcess> {
      const job = startNode(APP, { ...env(), DIRTY_SLEEP_S: '600' });
      await waitFor(() => /^MID_DDL$/m.test(job.output()) || job.child.exitCode !== null, 60_000, 'the migration to run its first DDL');
      expect(job.output()).toMatch(/^MID_DDL$/m);
      return job;
    }

    /** SIGKILLs the fixture mid-DDL; what it leaves: SlowDdl's first table, no record of it, a marker naming the killed pid. */
    async function killMidDdl(): Promise<number> {
      const job = await startUntilMidDdl();
      const pid = job.child.pid!;
      expect(await job.stop('SIGKILL')).toBe('SIGKILL');
      expect(await t.db.tables()).toEqual(expect.arrayContaining(['half_done', 'things']));
      expect(await t.db.tables()).not.toContain('second_half');
      expect(await t.db.recorded()).toEqual([THINGS]);
      expect(await markers()).toEqual([{ name: SLOW, operation: 'up', started_by: expect.stringMatching(new RegExp(`pid ${pid}$`)) }]);
      return pid;
    }

    it('SIGKILL mid-DDL, then boot: the error names the migration, when and by whom; nothing runs blind; status shows it; resolve --not-applied after the repair; then it boots clean', async () => {
      const pid = await killMidDdl();

      const { counter, migrations, options } = inProcess();
      const started = Date.now();
      const boot = bootApp({ dataSources: [{ db: t.db, migrations, options }], migrator: { runMigrations: true } });
      const error = (await boot.then(
        () => undefined,
        (e: unknown) => e,
      )) as MigrationDirtyError;
      expect(error).toBeInstanceOf(MigrationDirtyError);
      expect(Date.now() - started).toBeLessThan(30_000); // the dead holder's lock is gone: no wait for lock.timeoutMs
      expect(error).toMatchObject({ dataSource: 'default', migration: SLOW, startedBy: expect.stringContaining(`pid ${pid}`) });
      expect(error.startedAt.getTime()).toBeGreaterThan(started - 120_000);
      expect(error.message).toContain(`"${SLOW}" started being applied at ${error.startedAt.toISOString()}`);
      expect(error.message).toContain(`auto-migrator resolve ${SLOW} --applied`);
      expect(counter.calls).toBe(0); // not re-run into "already exists"
      expect(await t.db.recorded()).toEqual([THINGS]);

      const status = await cli(['status']);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain('1 applied, 1 pending, 0 unknown, 1 dirty');
      expect(status.stdout).toMatch(new RegExp(`dirty \\(up started \\S+ by host \\S+ pid ${pid}\\)\\s+\\S+\\s+${SLOW}`));
      const json = JSON.parse((await cli(['status', '--json'])).stdout) as {
        dataSources: Array<{ dirty: Array<Record<string, unknown>> }>;
      };
      expect(json.dataSources[0]!.dirty).toEqual([
        { name: SLOW, operation: 'up', startedAt: error.startedAt.toISOString(), startedBy: error.startedBy, transaction },
      ]);
      const up = await cli(['up', '--json']);
      expect(up.code).toBe(1);
      expect(JSON.parse(up.stdout)).toMatchObject({
        command: 'up',
        ok: false,
        error: { name: 'MigrationDirtyError', dirty: [{ name: SLOW, dataSource: 'default' }] },
      });

      // Unknown names and migrations not recorded as started change nothing.
      const unknown = await cli(['resolve', 'NoSuch1700000000099', '--not-applied']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('no migration of this build has that name');
      const notStarted = await cli(['resolve', THINGS, '--not-applied']);
      expect(notStarted.code).toBe(2);
      expect(notStarted.stderr).toContain('it is not recorded as started');
      expect(await markers()).toHaveLength(1);
      expect(await t.db.recorded()).toEqual([THINGS]);

      // The operator undoes what it did, and says so.
      await t.db.query('DROP TABLE half_done');
      const resolved = await cli(['resolve', SLOW, '--not-applied']);
      expect(resolved.code, resolved.stderr).toBe(0);
      expect(resolved.stdout).toContain(`${SLOW} resolved as not applied`);
      expect(await markers()).toEqual([]);
      expect(await t.db.recorded()).toEqual([THINGS]);

      t.app = await bootApp({ dataSources: [{ db: t.db, migrations, options }], migrator: { runMigrations: true } });
      expect(counter.calls).toBe(1);
      expect(await t.db.recorded()).toEqual([THINGS, SLOW]);
      expect(await markers()).toEqual([]);
    });

    it('a migration that fails after DDL stays recorded as started: the failure says so, and the next boot refuses to re-run it', async () => {
      let calls = 0;
      const Broken = defineMigration('Broken1700000000001', async (queryRunner) => {
        calls++;
        await sql('CREATE TABLE audit (id INT PRIMARY KEY)', 'INSERT INTO no_such_table (id) VALUES (1)')(queryRunner);
      });
      const options = { migrationsTransactionMode: transaction };
      const first = bootApp({ dataSources: [{ db: t.db, migrations: [Broken], options }], migrator: { runMigrations: true } });
      await expect(first).rejects.toBeInstanceOf(MigrationFailedError);
      await expect(first).rejects.toThrow('"Broken1700000000001" stays recorded as started and not finished');
      expect(await markers()).toEqual([
        { name: 'Broken1700000000001', operation: 'up', started_by: expect.stringContaining(`pid ${process.pid}`) },
      ]);

      const second = bootApp({ dataSources: [{ db: t.db, migrations: [Broken], options }], migrator: { runMigrations: true } });
      await expect(second).rejects.toBeInstanceOf(MigrationDirtyError);
      expect(calls).toBe(1);

      // Migrations disabled here (a release Job migrates): readiness names it too, and 'wait' says why it waits.
      const disabled = t.track(
        await bootApp({ dataSources: [{ db: t.db, migrations: [Broken], options }], migrator: { runMigrations: false } }),
      );
      expect(await disabled.app.get(MigrationsHealthIndicator).isReady()).toMatchObject({
        migrations: {
          status: 'down',
          dataSources: { default: { state: 'disabled', pending: 1, dirty: { migration: 'Broken1700000000001', operation: 'up' } } },
        },
      });
      const waiting = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [Broken], options }],
          migrator: { runMigrations: false, whenDisabled: 'wait' },
        }),
      );
      expect(waiting.app.get(AutoMigratorService).getState()).toMatchObject([
        { status: 'disabled', pending: 1, dirty: { name: 'Broken1700000000001' } },
      ]);
      expect(waiting.logger.messages('log').join('\n')).toContain('(dirty: "Broken1700000000001" started being applied at');
      expect(calls).toBe(1);
    });

    it('RetryStrategy does not retry it; RecreateOnFailureStrategy drops every table (the markers too) and migrates from scratch', async () => {
      let calls = 0;
      const Broken = defineMigration('Broken1700000000001', async (queryRunner) => {
        calls++;
        await queryRunner.query('CREATE TABLE audit (id INT PRIMARY KEY)');
        if (calls === 1) await queryRunner.query('INSERT INTO no_such_table (id) VALUES (1)');
      });
      const source = { db: t.db, migrations: [Broken], options: { migrationsTransactionMode: transaction } };
      await expect(bootApp({ dataSources: [source], migrator: { runMigrations: true } })).rejects.toBeInstanceOf(MigrationFailedError);

      const retried = bootApp({
        dataSources: [source],
        migrator: { runMigrations: true, strategy: new RetryStrategy(new FailFastStrategy(), { attempts: 3, initialDelayMs: 1 }) },
      });
      await expect(retried).rejects.toBeInstanceOf(MigrationDirtyError);
      expect(calls).toBe(1);

      t.app = await bootApp({ dataSources: [source], migrator: { runMigrations: true, strategy: RecreateOnFailureStrategy } });
      expect(calls).toBe(2);
      expect(await t.db.recorded()).toEqual(['Broken1700000000001']);
      expect(await markers()).toEqual([]);
      expect(t.app.app.get(AutoMigratorService).getState()).toMatchObject([{ status: 'done' }]);
    });

    it('state and readiness name it; resolve refuses while a run holds the lock; resolve({ as: "applied" }) after finishing it by hand', async () => {
      const holder = await startUntilMidDdl();
      try {
        const refused = await cli(['resolve', SLOW, '--applied']);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toContain('MigrationLockTimeoutError');
        expect(refused.stderr).toContain('a migration run is in progress, and resolve does not wait for it. Nothing was changed');
        expect(await markers()).toHaveLength(1);
        expect(await t.db.recorded()).toEqual([THINGS]);
      } finally {
        await holder.stop('SIGKILL');
      }

      const { counter, migrations, options } = inProcess();
      t.app = await bootApp({
        dataSources: [{ db: t.db, migrations, options }],
        migrator: { runMigrations: true, strategy: ContinueOnFailureStrategy },
      });
      const service = t.app.app.get(AutoMigratorService);
      expect(service.getState()).toMatchObject([
        { status: 'failed', failedMigration: SLOW, mayBePartiallyApplied: true, dirty: { name: SLOW, operation: 'up' } },
      ]);
      const health = await t.app.app.get(MigrationsHealthIndicator).isReady();
      expect(health).toMatchObject({
        migrations: {
          status: 'down',
          dataSources: {
            default: {
              state: 'failed',
              dirty: { migration: SLOW, operation: 'up', startedBy: expect.stringContaining(`pid ${holder.child.pid}`) },
            },
          },
        },
      });
      expect(counter.calls).toBe(0);

      // The operator finishes what it did, and says so.
      await t.db.query('CREATE TABLE second_half (id INT PRIMARY KEY)');
      const result = await service.resolve({ migration: SLOW, as: 'applied' });
      expect(result).toMatchObject({ dataSource: 'default', migration: SLOW, resolvedAs: 'applied', started: { name: SLOW } });
      expect(await t.db.recorded()).toEqual([THINGS, SLOW]);
      expect(await markers()).toEqual([]);
      // Recorded as applied by the operator: its checksum with it, as this build has it.
      expect(await t.db.query(`SELECT origin FROM migrations_checksums WHERE name = '${SLOW}'`)).toEqual([{ origin: 'applied' }]);
      expect(service.getState()).toMatchObject([{ status: 'done', pending: 0 }]);
      expect(service.getState()[0]!.dirty).toBeUndefined();
      expect((await service.status())[0]).toMatchObject({ pending: [], dirty: [] });
      expect(await service.up()).toMatchObject([{ status: 'done', applied: [] }]);
      expect(counter.calls).toBe(0);
    });
  },
  ['postgres', 'mariadb'],
);

describeEachDatabase(
  'reverting where DDL commits implicitly',
  (t: DatabaseFixture) => {
    it('a down() that fails after DDL: the error says what implicit commits kept, and the next up reports it instead of skipping it', async () => {
      let downs = 0;
      const Pair = defineMigration(
        'Pair1700000000001',
        sql('CREATE TABLE left_half (id INT PRIMARY KEY)', 'CREATE TABLE right_half (id INT PRIMARY KEY)'),
        {
          down: async (queryRunner) => {
            downs++;
            await queryRunner.query('DROP TABLE right_half');
            await queryRunner.query('INSERT INTO no_such_table (id) VALUES (1)');
          },
        },
      );
      t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [Pair] }], migrator: { runMigrations: true } }));
      const app = t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [Pair] }], migrator: { runMigrations: false } }));
      const service = app.app.get(AutoMigratorService);

      const failure = (await service.down({ to: 0 }).then(
        () => undefined,
        (e: unknown) => e,
      )) as MigrationFailedError;
      expect(failure).toBeInstanceOf(MigrationFailedError);
      expect(downs).toBe(1);
      if (t.kind === 'mariadb') {
        expect(failure.message).toContain('except DDL its down() ran before the error (MySQL/MariaDB commit DDL implicitly)');
        expect(failure.message).toContain('"Pair1700000000001" stays recorded as started and not finished');
        expect(await t.db.tables()).not.toContain('right_half');
        const [status] = await service.status();
        expect(status).toMatchObject({
          pending: [{ name: 'Pair1700000000001' }],
          dirty: [{ name: 'Pair1700000000001', operation: 'down' }],
        });

        const boot = bootApp({ dataSources: [{ db: t.db, migrations: [Pair] }], migrator: { runMigrations: true } });
        await expect(boot).rejects.toBeInstanceOf(MigrationDirtyError);
        await expect(boot).rejects.toThrow('"Pair1700000000001" started being reverted');
        expect(await t.db.tables()).not.toContain('right_half'); // not "up" skipped, not re-run into left_half's "already exists"

        await t.db.query('CREATE TABLE right_half (id INT PRIMARY KEY)');
        await service.resolve({ migration: '1700000000001', as: 'applied' });
        expect(await t.db.recorded()).toEqual(['Pair1700000000001']);
        expect((await service.status())[0]).toMatchObject({ pending: [], dirty: [] });
      } else {
        // Transactional DDL: the failed down() was rolled back whole; nothing is recorded as started.
        expect(failure.message).toContain('Its transaction was rolled back: it stays applied.');
        expect(failure.message).not.toContain('implicitly');
        expect(await t.db.tables()).toContain('right_half');
        expect(await t.db.recorded()).toEqual(['Pair1700000000001']);
        expect(await t.db.tables()).not.toContain('migrations_started');
      }
    });

    it('a run with pending migrations prints no failed statement of its own (the marker table is asked for, not selected blind)', async () => {
      const failed: string[] = [];
      const logger = {
        logQuery: () => undefined,
        logQueryError: (error: unknown, query: string) => failed.push(`${String(error)} ${query}`),
        logQuerySlow: () => undefined,
        logSchemaBuild: () => undefined,
        logMigration: () => undefined,
        log: () => undefined,
      };
      const Create = defineMigration('Create1700000000001', sql('CREATE TABLE created (id INT PRIMARY KEY)'));
      t.app = await bootApp({
        dataSources: [{ db: t.db, migrations: [Create], options: { logger } as never }],
        migrator: { runMigrations: true },
      });
      expect(await t.db.recorded()).toEqual(['Create1700000000001']);
      // (A fresh database's first read of the migrations table itself fails, as before, whatever it
      // also asks about the marker table: not ours to count here.) No statement reads the marker table blind.
      expect(failed.filter((entry) => /FROM "?migrations_started/.test(entry))).toEqual([]);
    });

    it("transaction 'each' where DDL is transactional writes no marker and creates no table; on MariaDB a failure before any DDL leaves none", async () => {
      let calls = 0;
      const Flaky = defineMigration('Flaky1700000000001', async (queryRunner) => {
        calls++;
        if (calls === 1) await queryRunner.query('SELECT * FROM no_such_table');
      });
      const first = bootApp({ dataSources: [{ db: t.db, migrations: [Flaky] }], migrator: { runMigrations: true } });
      await expect(first).rejects.toBeInstanceOf(MigrationFailedError);
      await expect(first).rejects.not.toThrow('stays recorded as started');
      t.app = await bootApp({ dataSources: [{ db: t.db, migrations: [Flaky] }], migrator: { runMigrations: true } });
      expect(calls).toBe(2);
      expect(await t.db.recorded()).toEqual(['Flaky1700000000001']);
      if (t.kind === 'mariadb') expect(await t.db.query('SELECT name FROM migrations_started')).toEqual([]);
      else expect(await t.db.tables()).not.toContain('migrations_started');
    });
  },
  ['postgres', 'mariadb', 'sqlite'],
);

describeEachDatabase(
  'an INVALID index left by a CREATE INDEX CONCURRENTLY that failed',
  (t: DatabaseFixture) => {
    it('the dirty-state error names it with the statement that removes it, and status lists it (text and API); once dropped, it is gone from both', async () => {
      const CreateItems = defineMigration('CreateItems1700000000001', sql('CREATE TABLE items (id INT PRIMARY KEY, v INT)'));
      // Over repeated values the unique build fails, and PostgreSQL keeps the index, INVALID.
      const Unique = defineMigration('UniqueV1700000000002', sql('CREATE UNIQUE INDEX CONCURRENTLY items_v_unique ON items (v)'), {
        transaction: false,
      });
      t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [CreateItems] }], migrator: { runMigrations: true } }));
      await t.db.query('INSERT INTO items (id, v) VALUES (1, 7), (2, 7)');
      const first = bootApp({ dataSources: [{ db: t.db, migrations: [CreateItems, Unique] }], migrator: { runMigrations: true } });
      await expect(first).rejects.toBeInstanceOf(MigrationFailedError);
      expect(await t.db.query(`SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_v_unique'::regclass`)).toEqual([
        { indisvalid: false },
      ]);

      const second = bootApp({ dataSources: [{ db: t.db, migrations: [CreateItems, Unique] }], migrator: { runMigrations: true } });
      await expect(second).rejects.toBeInstanceOf(MigrationDirtyError);
      await expect(second).rejects.toThrow(
        /The database has an INVALID index, left by an interrupted or failed CREATE INDEX CONCURRENTLY: public\.items_v_unique on public\.items\. Remove it \(DROP INDEX CONCURRENTLY public\.items_v_unique;\)/,
      );

      const app = t.track(
        await bootApp({ dataSources: [{ db: t.db, migrations: [CreateItems, Unique] }], migrator: { runMigrations: false } }),
      );
      const [status] = await app.app.get(AutoMigratorService).status();
      expect(status!.invalidIndexes).toEqual([
        {
          index: 'public.items_v_unique',
          schema: 'public',
          name: 'items_v_unique',
          table: 'public.items',
          definition: 'CREATE UNIQUE INDEX items_v_unique ON public.items USING btree (v)',
          drop: 'DROP INDEX CONCURRENTLY public.items_v_unique',
        },
      ]);
      await t.db.query('DROP INDEX CONCURRENTLY public.items_v_unique');
      const [after] = await app.app.get(AutoMigratorService).status();
      expect(after!.invalidIndexes).toEqual([]);
    });
  },
  ['postgres'],
);
