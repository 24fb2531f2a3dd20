import { join } from 'node:path';
import { Injectable, type Provider, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import {
  AutoMigratorService,
  ContinueOnFailureStrategy,
  FailFastStrategy,
  MigrationInterruptedError,
  MigrationStrategy,
  RecreateOnFailureStrategy,
  RetryStrategy,
  type MigrationContext,
  type MigrationEvent,
} from '../../lib/index.js';
import { describeEachDatabase, type DatabaseFixture } from '../support/database-suite.js';
import { createTestDatabase } from '../support/databases.js';
import { defineMigration, sleepSql, sql, tableMigration } from '../support/migrations.js';
import { freePort, startNode } from '../support/processes.js';
import { CapturingLogger, testAppModule, waitFor } from '../support/test-app.js';

const README_STRATEGY = join(import.meta.dirname, '../fixtures/readme-strategy.mjs');

function count(text: string, line: string): number {
  return text.split('\n').filter((candidate) => candidate === line).length;
}

describeEachDatabase('an interruption is not a failure', (t) => {
  it("SIGTERM mid-migration under the README's RestoreBackupStrategy: no restore, no second attempt, the process ends by the signal", async () => {
    // PostgreSQL, MariaDB: the statement in flight is cancelled after the grace period. SQLite's cannot
    // be: the slow migration commits within the grace period and the run stops before the next one.
    const env = t.kind === 'sqlite' ? { SLOW_MS: '3000', SHUTDOWN_GRACE_MS: '60000' } : { SLOW_MS: '60000', SHUTDOWN_GRACE_MS: '1000' };
    const app = startNode(README_STRATEGY, { DB_KIND: t.kind, DB_URL: t.db.url, ...env });
    await waitFor(() => app.output().includes('SLOW_STARTED'), 90_000, 'the slow migration to start');
    app.child.kill('SIGTERM');
    const exit = await app.exited;
    const output = app.output();
    expect(exit, output).toBe('SIGTERM');
    expect(output).toMatch(/BOOT_FAILED MigrationInterruptedError: DataSource "default": migrations interrupted by SIGTERM/);
    expect(count(output, 'BACKUP'), output).toBe(1);
    expect(count(output, 'RESTORE'), output).toBe(0);
    expect(count(output, 'RUN_MIGRATIONS'), output).toBe(1);
    expect(count(output, 'SLOW_STARTED'), output).toBe(1);
    expect(output).not.toContain('restoring the backup');
    expect(output.match(/WARN \[AutoMigrator\] DataSource "default": migrations interrupted by SIGTERM/g), output).toHaveLength(1);
    const applied = t.kind === 'sqlite' ? ['CreateItems1700000000001', 'SlowReport1700000000002'] : ['CreateItems1700000000001'];
    expect(await t.db.recorded()).toEqual(applied);
  }, 150_000);
});

/** Boots (init, not awaited) an app whose second migration sleeps in the database; closes it once that runs. */
async function closeWhileMigrating(t: DatabaseFixture, strategy: MigrationStrategy | Type<MigrationStrategy>, providers: Provider[] = []) {
  const logger = new CapturingLogger();
  const migrations = [tableMigration('First1700000000001', 'first'), defineMigration('Slow1700000000002', sql(sleepSql(t.kind, 60)!))];
  const app = await NestFactory.create(
    testAppModule({
      dataSources: [{ db: t.db, migrations }],
      migrator: { runMigrations: true, strategy, shutdownGraceMs: 500 },
      providers,
    }),
    { logger, abortOnError: false },
  );
  const service = app.get(AutoMigratorService);
  const events: MigrationEvent[] = [];
  service.events$.subscribe((event) => events.push(event));
  const init = app.init().then(
    () => undefined,
    (error: unknown) => error,
  );
  await waitFor(() => service.getState()[0]?.current?.name === 'Slow1700000000002', 60_000, 'the slow migration to run');
  const closedAt = Date.now();
  await app.close();
  const error = await init;
  return { error, logger, events, closedAt, state: service.getState()[0] };
}

/** A strategy that does everything wrong on shutdown: it tries again, drops, and marks failed. */
@Injectable()
class StubbornStrategy extends MigrationStrategy {
  static seen: { interrupted: boolean; aborted: boolean; same: boolean; dropSame: boolean } | undefined;
  async migrate(context: MigrationContext): Promise<void> {
    try {
      await context.runMigrations();
    } catch (first) {
      const again = await context.runMigrations().then(
        () => undefined,
        (error: unknown) => error,
      );
      const drop = await context.dropAndMigrate().then(
        () => undefined,
        (error: unknown) => error,
      );
      StubbornStrategy.seen = {
        interrupted: context.interrupted,
        aborted: context.signal.aborted,
        same: again === first,
        dropSame: drop === first,
      };
      context.markFailed(new Error('stubborn: marked failed'));
    }
  }
}

describeEachDatabase(
  'shutdown while a strategy runs (in process)',
  (t) => {
    it('the context says interrupted; runMigrations()/dropAndMigrate() reject again with the same error without touching the database; markFailed is ignored', async () => {
      StubbornStrategy.seen = undefined;
      const { error, state } = await closeWhileMigrating(t, StubbornStrategy, [StubbornStrategy]);
      expect(error).toBeInstanceOf(MigrationInterruptedError);
      expect(StubbornStrategy.seen).toEqual({ interrupted: true, aborted: true, same: true, dropSame: true });
      expect(state).toMatchObject({ status: 'failed', error: (error as Error).message });
      expect(await t.db.tables()).toContain('first');
      expect(await t.db.recorded()).toEqual(['First1700000000001']);
    });

    it.each([
      ['ContinueOnFailureStrategy', ContinueOnFailureStrategy, /continuing without its pending migrations/],
      ['RecreateOnFailureStrategy', RecreateOnFailureStrategy, /dropping every table/],
      [
        'RetryStrategy (everything retryable)',
        new RetryStrategy(new FailFastStrategy(), { isRetryable: () => true, initialDelayMs: 10 }),
        /retrying/,
      ],
    ] as const)('%s lets the interruption through: no failure handling, one interruption line', async (_name, strategy, handling) => {
      const { error, logger, events } = await closeWhileMigrating(t, strategy as never);
      expect(error).toBeInstanceOf(MigrationInterruptedError);
      expect(logger.text()).not.toMatch(handling);
      expect(events.map((event) => event.type)).not.toContain('retrying');
      expect(logger.messages('warn').filter((message) => message.includes('migrations interrupted by'))).toHaveLength(1);
      expect(await t.db.tables()).toContain('first');
    });
  },
  ['postgres', 'mariadb'],
);

describe('shutdown while RetryStrategy waits between attempts (postgres, unreachable)', () => {
  it('the wait ends at once: bootstrap rejects with MigrationInterruptedError, not after the backoff', async () => {
    const db = await createTestDatabase('postgres');
    const closed = new URL(db.url);
    closed.port = String(await freePort());
    const logger = new CapturingLogger();
    try {
      const app = await NestFactory.create(
        testAppModule({
          dataSources: [
            {
              db,
              migrations: [tableMigration('Never1700000000041', 'never')],
              options: { url: closed.toString(), manualInitialization: true } as never,
            },
          ],
          migrator: {
            runMigrations: true,
            strategy: new RetryStrategy(new FailFastStrategy(), { attempts: 5, initialDelayMs: 60_000, maxDelayMs: 60_000 }),
            shutdownGraceMs: 500,
          },
        }),
        { logger, abortOnError: false },
      );
      const service = app.get(AutoMigratorService);
      const init = app.init().then(
        () => undefined,
        (error: unknown) => error,
      );
      await waitFor(() => service.getState()[0]?.status === 'retrying', 60_000, 'the first retry wait');
      const closedAt = Date.now();
      await app.close();
      const error = await Promise.race([init, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 20_000).unref())]);
      expect(error).toBeInstanceOf(MigrationInterruptedError);
      expect(Date.now() - closedAt).toBeLessThan(10_000);
    } finally {
      await db.drop();
    }
  });
});
