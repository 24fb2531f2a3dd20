import { basename, dirname, join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockDigest } from '../../lib/lock/migration-lock.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { pgbouncerSkipReason, startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import { startNode, startTogether, type RunningProcess } from '../support/processes.js';
import { defineMigration, sql } from '../support/migrations.js';
import { bootApp, waitFor } from '../support/test-app.js';

const REPLICA = join(import.meta.dirname, '../fixtures/replica.mjs');
const REPLICA_MIGRATIONS = ['CreateItems1700000000001', 'SeedItem1700000000002', 'SlowReport1700000000003'];

const skip = pgbouncerSkipReason();
if (skip) console.warn(`[postgres] "the migration lock through PgBouncer" skipped: ${skip}`);

/** Advisory locks held anywhere on the server for this database (pooled server connections included). */
async function advisoryLocks(db: TestDatabase): Promise<number> {
  const rows = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return Number(rows[0]?.n);
}

describe.skipIf(skip !== undefined)(
  'the migration lock through PgBouncer (pool_mode=transaction), and spellings of one table, on postgres',
  () => {
    let db: TestDatabase;
    let bouncer: PgBouncer | undefined;
    const processes: RunningProcess[] = [];

    function replica(url: string, env: Record<string, string> = {}, barrier = false): RunningProcess {
      const process = startNode(REPLICA, { DB_KIND: 'postgres', DB_URL: url, ...env }, { barrier });
      processes.push(process);
      return process;
    }

    beforeEach(async () => {
      db = await createTestDatabase('postgres');
    });
    afterEach(async () => {
      for (const process of processes.splice(0)) await process.stop('SIGKILL');
      await bouncer?.stop();
      bouncer = undefined;
      await db.drop();
    });

    it('8 replicas at once, 3 rounds: 8/8 up, each migration and data row once, no advisory lock left on any pooled server connection', async () => {
      bouncer = await startPgBouncer({ poolSize: 3 });
      for (let round = 1; round <= 3; round++) {
        const roundDb = round === 1 ? db : await createTestDatabase('postgres');
        try {
          const replicas = Array.from({ length: 8 }, () => replica(bouncer!.url(roundDb.name), { SLOW_MS: '1000' }, true));
          await startTogether(replicas);
          const codes = await Promise.all(replicas.map((p) => p.exited));
          const outputs = replicas.map((p) => p.output());
          expect(codes, `round ${round}:\n${outputs.join('\n-----\n')}`).toEqual(Array(8).fill(0));
          expect(await roundDb.recorded()).toEqual(REPLICA_MIGRATIONS);
          expect(await roundDb.query(`SELECT label FROM items`)).toEqual([{ label: 'seeded once' }]);
          expect(outputs.filter((output) => / applied in \d+ ms/.test(output))).toHaveLength(1);
          // 'auto' saw the pooler and held the lock in a transaction.
          expect(outputs.join('\n')).toContain('transaction-scoped advisory lock');
          // PgBouncer still holds its server connections: none of them keeps the lock.
          expect(await advisoryLocks(roundDb)).toBe(0);
        } finally {
          if (roundDb !== db) await roundDb.drop();
        }
      }
    }, 600_000);

    it('the holder SIGKILLed mid-migration: the pooler drops its server connections, and another replica completes within seconds', async () => {
      bouncer = await startPgBouncer({ poolSize: 3 });
      const doomed = replica(bouncer.url(db.name), { SLOW_MS: '120000' });
      await waitFor(() => doomed.output().includes('SLOW_STARTED'), 60_000, 'the slow migration to start');
      doomed.child.kill('SIGKILL');
      expect(await doomed.exited).toBe('SIGKILL');

      const startedAt = Date.now();
      const next = replica(bouncer.url(db.name), { LOCK: '60000' });
      expect(await next.exited, next.output()).toBe(0);
      console.log(`[pooler] takeover after SIGKILL of the holder: the next replica finished in ${Date.now() - startedAt} ms`);
      // Takeover: the server notices the dropped connection within client_connection_check_interval (1 s).
      expect(Date.now() - startedAt).toBeLessThan(30_000);
      expect(await db.recorded()).toEqual(REPLICA_MIGRATIONS);
      expect(await db.query(`SELECT label FROM items`)).toEqual([{ label: 'seeded once' }]);
      expect(await advisoryLocks(db)).toBe(0);
    }, 180_000);

    it.each(['session', 'auto'])(
      "lock.mode '%s': a server connection on which another client left the lock is refused, naming transaction pooling; nothing runs",
      async (mode) => {
        bouncer = await startPgBouncer({ poolSize: 1 });
        // A client of the pooler takes the session lock and goes away: the lock stays on the one server connection.
        const key = lockDigest({ database: db.name, schema: 'public', table: 'migrations' }).readBigInt64BE(0);
        const leaker = new pg.Client({ connectionString: bouncer.url(db.name) });
        await leaker.connect();
        await leaker.query('SELECT pg_advisory_lock($1::bigint)', [String(key)]);
        await leaker.end();
        expect(await advisoryLocks(db)).toBe(1);

        const booted = replica(bouncer.url(db.name), { LOCK: '5000', LOCK_MODE: mode });
        expect(await booted.exited, booted.output()).toBe(1);
        expect(booted.output()).toMatch(/already held by the server connection this process was given .*transaction mode/);
        expect(await db.recorded()).toEqual([]);
      },
      120_000,
    );

    it("lock.mode 'session' behind the pooler: a lock no longer held by this process's server connection stops the run before the next migration", async () => {
      bouncer = await startPgBouncer({ poolSize: 1 });
      // The first migration drops every advisory lock of the server connection it runs on: what a
      // pooler does to a session lock when it hands this client another server connection.
      const Drops = defineMigration('DropsLocks1700000000001', sql('SELECT pg_advisory_unlock_all()'));
      const After = defineMigration('After1700000000002', sql('CREATE TABLE after_it (id INT PRIMARY KEY)'));
      const boot = bootApp({
        dataSources: [{ db, migrations: [Drops, After], options: { url: bouncer.url(db.name) } as never }],
        migrator: { runMigrations: true, lock: { mode: 'session' } },
      });
      await expect(boot).rejects.toThrow(
        /advisory lock .* is no longer held by this process: .*No further migration runs\. This happens behind a connection pooler in transaction mode/,
      );
      expect(await db.recorded()).toEqual(['DropsLocks1700000000001']);
      expect(await db.tables()).not.toContain('after_it');
    }, 120_000);

    async function bootAll(envs: Array<Record<string, string>>): Promise<string[]> {
      const replicas = envs.map(({ DB_URL, ...env }) => replica(DB_URL!, { SLOW_MS: '1000', ...env }, true));
      await startTogether(replicas);
      const codes = await Promise.all(replicas.map((p) => p.exited));
      const outputs = replicas.map((p) => p.output());
      expect(codes, outputs.join('\n-----\n')).toEqual(Array(envs.length).fill(0));
      expect(await db.recorded()).toEqual(REPLICA_MIGRATIONS);
      expect(await db.query(`SELECT label FROM items`)).toEqual([{ label: 'seeded once' }]);
      return outputs;
    }

    it("the key is the table the server resolves: 8 replicas, half with schema: 'public', half without: one migrates, each migration and row once", async () => {
      const outputs = await bootAll(
        Array.from({ length: 8 }, (_, i) => ({ DB_URL: db.url, ...(i % 2 === 0 ? { SCHEMA: 'public' } : {}) })),
      );
      expect(outputs.filter((output) => / applied in \d+ ms/.test(output))).toHaveLength(1);
    }, 300_000);

    it('the key is the table the server resolves: 8 replicas, half through a PgBouncer database alias, half directly: one migrates, each migration and row once', async () => {
      bouncer = await startPgBouncer({ poolSize: 3, aliases: { [`alias_${db.name}`]: db.name } });
      const viaAlias = bouncer.url(`alias_${db.name}`);
      const outputs = await bootAll(Array.from({ length: 8 }, (_, i) => ({ DB_URL: i % 2 === 0 ? viaAlias : db.url })));
      expect(outputs.filter((output) => / applied in \d+ ms/.test(output))).toHaveLength(1);
      expect(await advisoryLocks(db)).toBe(0);
    }, 300_000);
  },
);

describe('the lock key is the file the operating system resolves, not its spelling, on sqlite', () => {
  let db: TestDatabase;
  const processes: RunningProcess[] = [];
  beforeEach(async () => {
    db = await createTestDatabase('sqlite');
  });
  afterEach(async () => {
    for (const process of processes.splice(0)) await process.stop('SIGKILL');
    await db.drop();
  });

  it('8 replicas, half with a relative path, half with an absolute one: one migrates, each migration and row once', async () => {
    const replicas = Array.from({ length: 8 }, (_, i) =>
      startNode(
        REPLICA,
        { DB_KIND: 'sqlite', SLOW_MS: '1000', DB_URL: i % 2 === 0 ? basename(db.url) : db.url },
        { barrier: true, cwd: dirname(db.url) },
      ),
    );
    processes.push(...replicas);
    await startTogether(replicas);
    const codes = await Promise.all(replicas.map((p) => p.exited));
    const outputs = replicas.map((p) => p.output());
    expect(codes, outputs.join('\n-----\n')).toEqual(Array(8).fill(0));
    expect(await db.recorded()).toEqual(REPLICA_MIGRATIONS);
    expect(await db.query(`SELECT label FROM items`)).toEqual([{ label: 'seeded once' }]);
    expect(outputs.filter((output) => / applied in \d+ ms/.test(output))).toHaveLength(1);
  }, 300_000);
});
