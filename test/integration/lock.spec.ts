import { join } from 'node:path';
import { expect, it } from 'vitest';
import { AutoMigratorService, MigrationLockTimeoutError, MigrationStrategy, type MigrationContext } from '../../lib/index.js';
import { describeEachDatabase, type DatabaseFixture } from '../support/database-suite.js';
import { defineMigration, sql } from '../support/migrations.js';
import { startNode, startTogether, type RunningProcess } from '../support/processes.js';
import { bootApp, waitFor } from '../support/test-app.js';

const REPLICA = join(import.meta.dirname, '../fixtures/replica.mjs');
const REPLICA_MIGRATIONS = ['CreateItems1700000000001', 'SeedItem1700000000002', 'SlowReport1700000000003'];

function replica(t: DatabaseFixture, env: Record<string, string> = {}, barrier = false): RunningProcess {
  return startNode(REPLICA, { DB_KIND: t.kind, DB_URL: t.db.url, ...env }, { barrier });
}

/** The first two replica migrations, as in-process classes, for an app that shares the database. */
const CreateItems = defineMigration('CreateItems1700000000001', sql('CREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(50))'));
const SeedItem = defineMigration('SeedItem1700000000002', sql(`INSERT INTO items (id, label) VALUES (1, 'seeded once')`));
const SlowReport = defineMigration('SlowReport1700000000003', sql('CREATE TABLE report (id INT PRIMARY KEY)'));

/** Remembers the error runMigrations() rejected with, and reports the DataSource failed. */
class RecordingStrategy extends MigrationStrategy {
  error: unknown;
  async migrate(context: MigrationContext): Promise<void> {
    try {
      await context.runMigrations();
    } catch (error) {
      this.error = error;
      context.markFailed(error);
    }
  }
}

describeEachDatabase('the cross-process migration lock', (t) => {
  it('8 processes booting at once: all succeed, each migration is recorded once, the data row exists once, one migrates while the others wait', async () => {
    const processes = Array.from({ length: 8 }, () => replica(t, { SLOW_MS: '1500' }, true));
    await startTogether(processes);
    const codes = await Promise.all(processes.map((p) => p.exited));
    const outputs = processes.map((p) => p.output());
    expect(codes, outputs.join('\n-----\n')).toEqual(Array(8).fill(0));

    expect(await t.db.recorded()).toEqual(REPLICA_MIGRATIONS);
    expect(await t.db.query(`SELECT label FROM items`)).toEqual([{ label: 'seeded once' }]);
    const migrators = outputs.filter((output) => / applied in \d+ ms/.test(output));
    expect(migrators).toHaveLength(1);
    expect(migrators[0]).toContain('SLOW_STARTED');
    const waiters = outputs.filter((output) => output.includes('no pending migrations left; another process applied them'));
    expect(waiters).toHaveLength(7);
    for (const output of waiters) {
      expect(output).toMatch(/waiting for .*lock.*, held by /);
      expect(output).not.toContain('SLOW_STARTED');
    }
  }, 240_000);

  it("a replica waiting for the lock says so in its own lines and sends nothing to TypeORM's log, with logging ['error'] or 'all'; the holder's queries are logged as usual", async () => {
    const holder = replica(t, { SLOW_MS: '2500', LOGGING: '"all"' });
    try {
      await waitFor(() => holder.output().includes('SLOW_STARTED'), 90_000, 'the holder to start its slow migration');
      const waiters = [replica(t, { LOCK: '60000', LOGGING: '["error"]' }), replica(t, { LOCK: '60000', LOGGING: '"all"' })];
      const codes = await Promise.all(waiters.map((waiter) => waiter.exited));
      const outputs = waiters.map((waiter) => waiter.output());
      expect(codes, outputs.join('\n-----\n')).toEqual([0, 0]);
      for (const output of outputs) {
        expect(output).toMatch(/waiting for .*lock.*, held by /);
        expect(output).toContain('no pending migrations left; another process applied them');
        expect(output).not.toMatch(/query failed|lock timeout|pg_try_advisory|pg_advisory_lock|GET_LOCK|PROCESSLIST|pg_locks/);
      }
      expect(await holder.exited).toBe(0);
      // The holder's own TypeORM log (logging "all") still shows its queries: the quiet is the waiters' alone.
      expect(holder.output()).toMatch(/query: /);
    } finally {
      holder.child.kill('SIGKILL');
      await holder.exited;
    }
  }, 120_000);

  it('a process killed (SIGKILL) mid-migration does not keep the lock: the next one completes, nothing is half-recorded', async () => {
    const doomed = replica(t, { SLOW_MS: '120000' });
    await waitFor(() => doomed.output().includes('SLOW_STARTED'), 90_000, 'the slow migration to start');
    doomed.child.kill('SIGKILL');
    expect(await doomed.exited).toBe('SIGKILL');
    // Under 'each' the two committed migrations stay; the killed one is absent, not half-recorded.
    expect(await t.db.recorded()).toEqual(REPLICA_MIGRATIONS.slice(0, 2));

    const startedAt = Date.now();
    const next = replica(t, { LOCK: '30000' });
    expect(await next.exited, next.output()).toBe(0);
    expect(Date.now() - startedAt).toBeLessThan(20_000);
    expect(await t.db.recorded()).toEqual(REPLICA_MIGRATIONS);
    expect(await t.db.query(`SELECT label FROM items`)).toEqual([{ label: 'seeded once' }]);
    expect(await t.db.tables()).toContain('report');
  });

  it('a lock held past lock.timeoutMs reaches the strategy as MigrationLockTimeoutError, naming the holder; readiness showed waiting-for-lock', async () => {
    const holder = replica(t, { SLOW_MS: '60000' });
    try {
      await waitFor(() => holder.output().includes('SLOW_STARTED'), 90_000, 'the holder to start its slow migration');
      const strategy = new RecordingStrategy();
      t.app = await bootApp({
        dataSources: [{ db: t.db, migrations: [CreateItems, SeedItem, SlowReport] }],
        migrator: { runMigrations: true, strategy, mode: 'background', lock: { timeoutMs: 1500, logEveryMs: 200 } },
      });
      const service = t.app.app.get(AutoMigratorService);
      const waiting = await waitFor(
        async () => {
          const readiness = await service.getReadiness();
          return readiness.dataSources['default']?.state === 'waiting-for-lock' ? readiness : undefined;
        },
        10_000,
        'readiness to show waiting-for-lock',
      );
      expect(waiting.ready).toBe(false);
      expect(waiting.dataSources['default']?.waitingSince).toMatch(/^\d{4}-\d\d-\d\dT/);

      await service.whenFinished();
      expect(strategy.error).toBeInstanceOf(MigrationLockTimeoutError);
      const error = strategy.error as MigrationLockTimeoutError;
      expect(error.dataSource).toBe('default');
      expect(error.waitedMs).toBeGreaterThanOrEqual(1500);
      const holderPattern =
        t.kind === 'postgres' ? /^pid \d+/ : t.kind === 'mariadb' ? /^connection \d+/ : new RegExp(`^pid ${holder.child.pid} on `);
      expect(error.holder).toMatch(holderPattern);
      expect(error.message).toMatch(/gave up waiting for .* after \d+\.\d s \(lock\.timeoutMs 1500\); held by /);
      expect(service.getState()).toMatchObject([{ status: 'failed', error: error.message }]);
      expect(t.app.logger.messages('log').some((line) => /waiting for .*, held by /.test(line))).toBe(true);
    } finally {
      holder.child.kill('SIGKILL');
      await holder.exited;
    }
  });

  it('nothing pending: no lock is taken, so a boot is not held up by a running migrator', async () => {
    const holder = replica(t, { SLOW_MS: '60000' });
    try {
      await waitFor(() => holder.output().includes('SLOW_STARTED'), 90_000, 'the holder to start its slow migration');
      // This build knows only the two migrations already applied: nothing pending for it.
      t.app = await bootApp({
        dataSources: [{ db: t.db, migrations: [CreateItems, SeedItem] }],
        migrator: { runMigrations: true, lock: { timeoutMs: 1, logEveryMs: 1 } },
      });
      expect(t.app.app.get(AutoMigratorService).getState()).toMatchObject([{ status: 'done', applied: [] }]);
      expect(t.app.logger.messages('log')).toContain('DataSource "default": no pending migrations');
    } finally {
      holder.child.kill('SIGKILL');
      await holder.exited;
    }
  });

  it('lock: false takes no lock: a boot runs its pending migration at once, even while another process holds the lock', async () => {
    const holder = replica(t, { SLOW_MS: '60000' });
    try {
      await waitFor(() => holder.output().includes('SLOW_STARTED'), 90_000, 'the holder to start its slow migration');
      const booting = bootApp({
        dataSources: [{ db: t.db, migrations: [CreateItems, SeedItem, SlowReport] }],
        migrator: { runMigrations: true, lock: false },
      });
      if (t.kind === 'mariadb') {
        // MariaDB records a migration as started (a row) in its transaction: the second run of the
        // same migration waits on the holder's row, not on a lock, until the holder is gone.
        const waiting = `SELECT COUNT(*) AS n FROM information_schema.processlist WHERE db = '${t.db.name}' AND info LIKE '%migrations_started%' AND (state = 'Update' OR state LIKE 'Waiting for%lock%')`;
        await waitFor(
          async () => Number((await t.db.query<{ n: number | string }>(waiting))[0]?.n) > 0,
          60_000,
          'the boot to wait on the started row',
        );
        holder.child.kill('SIGKILL');
      }
      t.app = await booting;
      // It ran the migration the holder is still running: exactly the race the lock prevents.
      expect(t.app.app.get(AutoMigratorService).getState()).toMatchObject([{ status: 'done', applied: ['SlowReport1700000000003'] }]);
      expect(t.app.logger.messages('log').some((line) => line.includes('waiting for'))).toBe(false);
    } finally {
      holder.child.kill('SIGKILL');
      await holder.exited;
    }
  });
});

describeEachDatabase(
  'the lock check before each migration on MySQL/MariaDB',
  (t) => {
    it('a named lock lost between migrations stops the run before the next one (the check rides on the started-marker statement)', async () => {
      // The first migration releases every named lock of its connection: what a multiplexing proxy
      // does when it moves this client to another server connection.
      const Drops = defineMigration('DropsLocks1700000000001', sql('SELECT RELEASE_ALL_LOCKS()'));
      const After = defineMigration('After1700000000002', sql('CREATE TABLE after_it (id INT PRIMARY KEY)'));
      const boot = bootApp({ dataSources: [{ db: t.db, migrations: [Drops, After] }], migrator: { runMigrations: true } });
      await expect(boot).rejects.toThrow(
        /named lock .* is no longer held by this connection \(nobody holds it\)\. No further migration runs/,
      );
      expect(await t.db.recorded()).toEqual(['DropsLocks1700000000001']);
      expect(await t.db.tables()).not.toContain('after_it');
    });
  },
  ['mariadb'],
);

describeEachDatabase(
  'the lock and CREATE INDEX CONCURRENTLY',
  (t) => {
    it('three replicas at once, one building an index CONCURRENTLY under live writes while the others wait: no deadlock, every replica done, the index valid, no write failed', async () => {
      await t.db.query('CREATE TABLE writes (id bigserial PRIMARY KEY, v int)');
      await t.db.query('INSERT INTO writes (v) SELECT g % 1000 FROM generate_series(1, 300000) AS g');
      // The first three migrations applied: the index build is what is pending.
      expect(await replica(t).exited).toBe(0);
      const writer = startNode(
        join(import.meta.dirname, '../fixtures/steady-writer.mjs'),
        { DB_URL: t.db.url, WRITE_TABLE: 'writes' },
        { barrier: true },
      );
      await startTogether([writer]);
      await waitFor(() => /^RUNNING$/m.test(writer.output()), 30_000, 'the writer to start');
      const replicas = Array.from({ length: 3 }, () => replica(t, { CONCURRENT_INDEX: 'writes', LOCK: '120000' }, true));
      await startTogether(replicas);
      const codes = await Promise.all(replicas.map((process) => process.exited));
      writer.child.stdin?.write('stop\n');
      await writer.exited;
      const writes = JSON.parse(writer.output().trim().split('\n').at(-1)!) as { inserts: number; failed: number };
      expect(codes, replicas.map((process) => process.output()).join('\n-----\n')).toEqual([0, 0, 0]);
      expect(await t.db.recorded()).toEqual([...REPLICA_MIGRATIONS, 'ConcurrentIndex1700000000005']);
      expect(await t.db.query(`SELECT indisvalid FROM pg_index WHERE indexrelid = 'writes_v_concurrently'::regclass`)).toEqual([
        { indisvalid: true },
      ]);
      expect(writes.failed).toBe(0);
      expect(writes.inserts).toBeGreaterThan(0);
    }, 180_000);
  },
  ['postgres'],
);
