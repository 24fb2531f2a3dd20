import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import {
  AutoMigratorService,
  ContinueOnFailureStrategy,
  FailFastStrategy,
  MigrationFailedError,
  MigrationsHealthIndicator,
  RetryStrategy,
  type MigrationEvent,
} from '../../lib/index.js';
import { describeEachDatabase, type DatabaseFixture } from '../support/database-suite.js';
import { createPostgresLoginRole, createTestDatabase, type DbKind } from '../support/databases.js';
import { defineMigration, sql, tableMigration } from '../support/migrations.js';
import { freePort, startNode } from '../support/processes.js';
import { bootApp, CapturingLogger, waitFor } from '../support/test-app.js';

const REPLICA = join(import.meta.dirname, '../fixtures/replica.mjs');
const CLEAN_SHUTDOWN = /Unhandled|DataSource is not initialized|Connection terminated|ERROR_DURING_SHUTDOWN|Error during shutdown/;

describeEachDatabase(
  'shutdown during a migration',
  (t) => {
    it('SIGTERM mid-statement: after shutdownGraceMs the statement is cancelled and rolled back, the lock released, the process exits; the next boot completes', async () => {
      const app = startNode(REPLICA, { DB_KIND: t.kind, DB_URL: t.db.url, HTTP: '1', SLOW_MS: '60000', SHUTDOWN_GRACE_MS: '1000' });
      await waitFor(() => app.output().includes('SLOW_STARTED'), 90_000, 'the slow migration to start');
      const signalledAt = Date.now();
      app.child.kill('SIGTERM');
      const exit = await app.exited;
      // Generous for a loaded 2-core machine, and still far below the 60 s the statement would run uncancelled.
      expect(Date.now() - signalledAt).toBeLessThan(30_000);
      expect(exit).toBe('SIGTERM');
      expect(app.output()).toContain('SIGTERM: grace period over; cancelling the statement in flight');
      expect(app.output()).toMatch(
        /BOOT_FAILED MigrationInterruptedError: DataSource "default": migrations interrupted by SIGTERM: "SlowReport1700000000003" did not complete and was rolled back; the 2 migrations this run applied before it stay applied/,
      );
      expect(app.output()).not.toMatch(CLEAN_SHUTDOWN);
      expect(await t.db.recorded()).toEqual(['CreateItems1700000000001', 'SeedItem1700000000002']);
      expect(await t.db.tables()).not.toContain('report');

      const next = startNode(REPLICA, { DB_KIND: t.kind, DB_URL: t.db.url, LOCK: '10000' });
      expect(await next.exited, next.output()).toBe(0);
      expect(await t.db.recorded()).toEqual(['CreateItems1700000000001', 'SeedItem1700000000002', 'SlowReport1700000000003']);
    });

    it('SIGTERM with time to spare: the migration in flight commits, the next one does not start', async () => {
      const env = { DB_KIND: t.kind, DB_URL: t.db.url, EXTRA: '1' };
      const app = startNode(REPLICA, { ...env, HTTP: '1', SLOW_MS: '1500', SHUTDOWN_GRACE_MS: '20000' });
      await waitFor(() => app.output().includes('SLOW_STARTED'), 90_000, 'the slow migration to start');
      app.child.kill('SIGTERM');
      expect(await app.exited).toBe('SIGTERM');
      expect(app.output()).toMatch(
        /migrations interrupted by SIGTERM before the next migration; the 3 migrations this run applied before it stay applied/,
      );
      expect(app.output()).not.toMatch(CLEAN_SHUTDOWN);
      expect(await t.db.recorded()).toEqual(['CreateItems1700000000001', 'SeedItem1700000000002', 'SlowReport1700000000003']);

      const next = startNode(REPLICA, env);
      expect(await next.exited, next.output()).toBe(0);
      expect(await t.db.recorded()).toContain('AfterReport1700000000004');
    });
  },
  ['postgres', 'mariadb'],
);

/** Opens a transaction in another session that reads `table`, so DDL on it must wait. */
async function holdReadLock(kind: DbKind, url: string, table: string): Promise<() => Promise<void>> {
  if (kind === 'postgres') {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('BEGIN');
    await client.query(`SELECT * FROM ${table}`);
    return async () => {
      await client.query('ROLLBACK');
      await client.end();
    };
  }
  const connection = await mysql.createConnection({ uri: url });
  await connection.query('START TRANSACTION');
  await connection.query(`SELECT * FROM ${table}`);
  return async () => {
    await connection.query('ROLLBACK');
    await connection.end();
  };
}

describeEachDatabase(
  'migration timeouts',
  (t) => {
    it('a migration blocked by another session’s open transaction fails with the lock timeout, in about the configured time', async () => {
      await t.db.query('CREATE TABLE busy (id INT PRIMARY KEY)');
      const release = await holdReadLock(t.kind, t.db.url, 'busy');
      try {
        const AlterBusy = defineMigration('AlterBusy1700000000030', sql('ALTER TABLE busy ADD COLUMN extra INT'));
        const started = Date.now();
        const boot = bootApp({
          dataSources: [{ db: t.db, migrations: [AlterBusy] }],
          migrator: { runMigrations: true, migrationTimeouts: { lockTimeoutMs: 500 } },
        });
        await expect(boot).rejects.toBeInstanceOf(MigrationFailedError);
        await expect(boot).rejects.toThrow(/migration "AlterBusy1700000000030" failed: .*migrationTimeouts\.lockTimeoutMs = 500 ms/);
        // PostgreSQL honours milliseconds; MySQL/MariaDB wait in whole seconds (here 1 s). Without the
        // timeout the migration would wait until the lock is released (after this check): a bound
        // generous for a loaded 2-core machine still tells the two apart.
        expect(Date.now() - started).toBeLessThan(30_000);
      } finally {
        await release();
      }
      expect(await t.db.recorded()).toEqual([]);
    });

    it('a statement longer than statementTimeoutMs fails fast, naming the option', async () => {
      const sleep = t.kind === 'postgres' ? 'SELECT pg_sleep(60)' : 'SELECT SLEEP(60)';
      const Sleepy = defineMigration('Sleepy1700000000031', sql(sleep));
      const started = Date.now();
      await expect(
        bootApp({
          dataSources: [{ db: t.db, migrations: [Sleepy] }],
          migrator: { runMigrations: true, migrationTimeouts: { statementTimeoutMs: 300 } },
        }),
      ).rejects.toThrow(/migrationTimeouts\.statementTimeoutMs = 300 ms/);
      // Far below the statement's 60 s, generous for a loaded machine.
      expect(Date.now() - started).toBeLessThan(30_000);
    });
  },
  ['postgres', 'mariadb'],
);

/** A TCP proxy to PostgreSQL on a fixed port, started when the test says so. */
class LatePostgresProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}
  start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    return new Promise((resolve) => this.server!.listen(this.port, '127.0.0.1', () => resolve()));
  }
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('the database is unreachable at boot (postgres, RetryStrategy)', () => {
  it('readiness goes retrying (attempt, next time) → up once the database answers', async () => {
    const db = await createTestDatabase('postgres');
    const login = await createPostgresLoginRole(db, 'Pr0xy-Secret-Pw');
    const real = new URL(db.url);
    const proxy = new LatePostgresProxy(await freePort(), { host: real.hostname, port: Number(real.port || 5432) });
    const viaProxy = new URL(login.url);
    viaProxy.port = String(proxy.port);
    try {
      const app = await bootApp({
        dataSources: [
          {
            db,
            migrations: [tableMigration('Late1700000000040', 'late')],
            options: { url: viaProxy.toString(), manualInitialization: true } as never,
          },
        ],
        migrator: {
          runMigrations: true,
          mode: 'background',
          strategy: new RetryStrategy(new FailFastStrategy(), { attempts: 100, initialDelayMs: 100, factor: 1 }),
        },
        listen: true,
      });
      try {
        const retrying = await waitFor(
          async () => {
            const response = await fetch(`${app.url}/health/ready`);
            const body = (await response.json()) as { error?: { migrations?: { dataSources?: Record<string, Record<string, unknown>> } } };
            const detail = body.error?.migrations?.dataSources?.['default'];
            return response.status === 503 && detail?.['state'] === 'retrying' ? detail : undefined;
          },
          15_000,
          'readiness to show retrying',
        );
        expect(retrying).toMatchObject({ attempt: expect.any(Number), attempts: 100, nextAttemptAt: expect.stringMatching(/^\d{4}-/) });
        expect(String(retrying['error'])).toContain(`127.0.0.1:${proxy.port}`);
        expect(JSON.stringify(retrying)).not.toContain('Pr0xy-Secret-Pw');

        await proxy.start();
        await waitFor(async () => (await fetch(`${app.url}/health/ready`)).status === 200, 15_000, 'readiness to become 200');
        expect(await db.recorded()).toEqual(['Late1700000000040']);
        expect(app.logger.text()).not.toContain('Pr0xy-Secret-Pw');
      } finally {
        await app.close();
      }
    } finally {
      await proxy.stop();
      await db.drop();
      await login.drop();
    }
  });

  it('after the last attempt the error names the DataSource and the host, not the password', async () => {
    const db = await createTestDatabase('postgres');
    const closed = new URL(db.url);
    closed.port = String(await freePort());
    closed.password = 'Cl0sed-Secret-Pw';
    try {
      const boot = bootApp({
        dataSources: [
          {
            db,
            migrations: [tableMigration('Never1700000000041', 'never')],
            options: { url: closed.toString(), manualInitialization: true } as never,
          },
        ],
        migrator: { runMigrations: true, strategy: new RetryStrategy(new FailFastStrategy(), { attempts: 2, initialDelayMs: 10 }) },
      });
      const error = await boot.then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).toMatch(
        new RegExp(`^DataSource "default": could not reach the database: .*ECONNREFUSED.*127\\.0\\.0\\.1:${closed.port}`),
      );
      expect(error?.message).not.toContain('Cl0sed-Secret-Pw');
    } finally {
      await db.drop();
    }
  });
});

describeEachDatabase('honest reporting and observability', (t) => {
  it("transaction 'none': a migration that fails half-way is reported as possibly partially applied", async () => {
    const HalfDone = defineMigration(
      'HalfDone1700000000050',
      sql('CREATE TABLE half (id INT PRIMARY KEY)', 'INSERT INTO nowhere VALUES (1)'),
    );
    t.app = await bootApp({
      dataSources: [{ db: t.db, migrations: [HalfDone] }],
      migrator: { runMigrations: true, strategy: ContinueOnFailureStrategy, dataSources: [{ name: 'default', transaction: 'none' }] },
    });
    // No transaction: the first statement stayed, and nothing claims otherwise.
    expect(await t.db.tables()).toContain('half');
    expect(await t.db.recorded()).toEqual([]);
    const health = await t.app.app.get(MigrationsHealthIndicator).isReady();
    expect(health.migrations).toMatchObject({
      status: 'down',
      dataSources: {
        default: {
          state: 'failed',
          failedMigration: 'HalfDone1700000000050',
          mayBePartiallyApplied: true,
          error: expect.stringContaining('may be partially applied'),
        },
      },
    });
  });

  it('events$ reports the run; logger: false silences the library; readinessDetails counts hides names', async () => {
    const events: MigrationEvent[] = [];
    const captured = new CapturingLogger();
    t.app = await bootApp(
      {
        dataSources: [
          { db: t.db, migrations: [tableMigration('First1700000000060', 'first'), tableMigration('Second1700000000061', 'second')] },
        ],
        migrator: { runMigrations: false, logger: false, readinessDetails: 'counts' },
      },
      captured,
    );
    const service = t.app.app.get(AutoMigratorService);
    const subscription = service.events$.subscribe((event) => events.push(event));
    await service.up();
    subscription.unsubscribe();
    expect(events.map((event) => event.type)).toEqual([
      'run-started',
      'migration-started',
      'migration-finished',
      'migration-started',
      'migration-finished',
      'data-source-done',
    ]);
    expect(events[2]).toMatchObject({
      type: 'migration-finished',
      dataSource: 'default',
      migration: 'First1700000000060',
      durationMs: expect.any(Number),
    });
    expect(events[5]).toMatchObject({ type: 'data-source-done', status: 'done', applied: ['First1700000000060', 'Second1700000000061'] });
    expect(captured.entries.filter((entry) => entry.extra.includes('AutoMigrator'))).toEqual([]);

    // Migrations are disabled in this app, and its boot counted what was pending; the up() since then is what readiness reports.
    expect(await service.getReadiness()).toEqual({ ready: true, dataSources: { default: { state: 'done', pending: 0, applied: 2 } } });
  });

  it('a long migration is not silent: a progress line says it still runs, and for how long', async () => {
    let release = false;
    const Long = defineMigration('LongBackfill1700000000067', async (queryRunner) => {
      await queryRunner.query('CREATE TABLE long_backfill (id INT PRIMARY KEY)');
      while (!release) await new Promise((resolve) => setTimeout(resolve, 20));
    });
    t.app = await bootApp({
      dataSources: [{ db: t.db, migrations: [Long] }],
      migrator: { runMigrations: true, mode: 'background', progressEveryMs: 200 },
    });
    try {
      await waitFor(
        () => t.app!.logger.entries.find((entry) => /\[1\/1\] LongBackfill1700000000067 still running after \d+s/.test(entry.message)),
        30_000,
        'a "still running" progress line',
      );
    } finally {
      release = true;
    }
    await t.app.app.get(AutoMigratorService).whenFinished();
    expect(await t.db.recorded()).toEqual(['LongBackfill1700000000067']);
  });

  it('a failed run says what stays applied without confusing this run with earlier ones', async () => {
    const earlier = [tableMigration('Earlier1700000000064', 'earlier'), tableMigration('Older1700000000065', 'older')];
    t.track(await bootApp({ dataSources: [{ db: t.db, migrations: earlier }] }));
    const Broken = defineMigration('Broken1700000000066', sql('SELECT * FROM nowhere'));
    const failure = await bootApp({ dataSources: [{ db: t.db, migrations: [...earlier, Broken] }] }).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(failure?.message).toContain('everything applied before it stays applied (none of it by this run)');
    expect(failure?.message).not.toMatch(/\b0 migrations\b/);
    expect(await t.db.recorded()).toEqual(['Earlier1700000000064', 'Older1700000000065']);
  });

  it("transaction 'each': a migration is reported applied (and its line logged) after its COMMIT, not before", async () => {
    const timeline: string[] = [];
    const record = (query: string, parameters?: unknown) => timeline.push(`${query} ${JSON.stringify(parameters ?? [])}`);
    const typeormLogger = {
      logQuery: record,
      logQueryError: () => {},
      logQuerySlow: () => {},
      logSchemaBuild: () => {},
      logMigration: () => {},
      log: () => {},
    };
    t.app = await bootApp({
      dataSources: [
        {
          db: t.db,
          migrations: [tableMigration('First1700000000062', 'first'), tableMigration('Second1700000000063', 'second')],
          options: { logging: 'all', logger: typeormLogger } as never,
        },
      ],
      migrator: { runMigrations: false },
    });
    const service = t.app.app.get(AutoMigratorService);
    const subscription = service.events$.subscribe((event) => {
      if (event.type === 'migration-finished') timeline.push(`finished ${event.migration}`);
    });
    await service.up();
    subscription.unsubscribe();
    for (const name of ['First1700000000062', 'Second1700000000063']) {
      // PostgreSQL: the record and its checksum are one statement (WITH recorded AS (INSERT INTO "migrations" …) INSERT …).
      const inserted = timeline.findIndex((line) => /^(WITH recorded AS \()?INSERT INTO\b.*migrations/i.test(line) && line.includes(name));
      const committed = timeline.findIndex((line, index) => index > inserted && /^COMMIT\b/i.test(line));
      expect(inserted, timeline.join('\n')).toBeGreaterThan(-1);
      expect(committed, timeline.join('\n')).toBeGreaterThan(inserted);
      expect(timeline.indexOf(`finished ${name}`), timeline.join('\n')).toBeGreaterThan(committed);
    }
  });

  it("readinessDetails 'counts' shows states and numbers, no migration names or errors", async () => {
    t.app = await bootApp({
      dataSources: [
        {
          db: t.db,
          migrations: [tableMigration('Fine1700000000080', 'fine'), defineMigration('Broken1700000000081', sql('SELECT * FROM nowhere'))],
        },
      ],
      migrator: { runMigrations: true, strategy: ContinueOnFailureStrategy, readinessDetails: 'counts' },
    });
    const readiness = await t.app.app.get(AutoMigratorService).getReadiness();
    expect(readiness).toEqual({ ready: false, dataSources: { default: { state: 'failed', pending: 1, applied: 1 } } });
  });

  it('a LoggerService given as logger receives the lines with the context AutoMigrator', async () => {
    const mine = new CapturingLogger();
    t.app = await bootApp({
      dataSources: [{ db: t.db, migrations: [tableMigration('Only1700000000070', 'only_one')] }],
      migrator: { runMigrations: true, logger: mine },
    });
    expect(mine.entries).toEqual(
      expect.arrayContaining([
        { level: 'log', message: expect.stringMatching(/\[1\/1\] Only1700000000070 applied in \d+ ms/), extra: 'AutoMigrator' },
      ]),
    );
  });
});

export type { DatabaseFixture };
