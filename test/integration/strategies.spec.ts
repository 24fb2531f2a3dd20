import { describe, expect, it } from 'vitest';
import {
  AutoMigratorService,
  ContinueOnFailureStrategy,
  FailFastStrategy,
  MigrationFailedError,
  MigrationsHealthIndicator,
  RecreateOnFailureStrategy,
  RetryStrategy,
  type MigrationTransactionMode,
} from '../../lib/index.js';
import type { DbKind } from '../support/databases.js';
import { BrokenHalfway, CreatePosts, CreateUsers, defineMigration, SeedAlice, sql } from '../support/migrations.js';
import { describeEachDatabase } from '../support/database-suite.js';
import { bootApp } from '../support/test-app.js';

const FAILING = [CreateUsers, SeedAlice, BrokenHalfway];
const FIRST_TWO = ['CreateUsers1700000000001', 'SeedAlice1700000000002'];

/** What the database holds after FAILING fails half-way, per database and transaction mode. */
function expectedAfterFailure(kind: DbKind, transaction: MigrationTransactionMode) {
  if (kind === 'mariadb') {
    // MariaDB commits DDL implicitly: the failed migration's CREATE TABLE stays, and under 'all'
    // that implicit commit also made the two earlier migrations (and their records) permanent.
    return { recorded: FIRST_TWO, users: [{ id: 1, name: 'alice' }], auditExists: true };
  }
  if (transaction === 'each') return { recorded: FIRST_TWO, users: [{ id: 1, name: 'alice' }], auditExists: false };
  return { recorded: [], users: undefined, auditExists: false };
}

describeEachDatabase('strategies', (t) => {
  async function assertStateAfterFailure(transaction: MigrationTransactionMode) {
    const expected = expectedAfterFailure(t.kind, transaction);
    const tables = await t.db.tables();
    expect(tables.includes('audit')).toBe(expected.auditExists);
    expect(await t.db.recorded()).toEqual(expected.recorded);
    if (expected.users === undefined) expect(tables).not.toContain('users');
    else expect(await t.db.query('SELECT id, name FROM users')).toEqual(expected.users);
  }

  describe.each(['each', 'all'] as const)("transaction '%s'", (transaction) => {
    it('FailFastStrategy: bootstrap rejects naming the migration; the database holds what the mode promises', async () => {
      const boot = bootApp({
        dataSources: [{ db: t.db, migrations: FAILING }],
        migrator: { runMigrations: true, strategy: FailFastStrategy, dataSources: [{ name: 'default', transaction }] },
      });
      await expect(boot).rejects.toBeInstanceOf(MigrationFailedError);
      await expect(boot).rejects.toMatchObject({
        dataSource: 'default',
        migration: 'BrokenHalfway1700000000004',
        transaction,
        message: expect.stringContaining('migration "BrokenHalfway1700000000004" failed'),
      });
      const error: MigrationFailedError = (await boot.catch((e: MigrationFailedError) => e)) as never;
      if (t.kind === 'mariadb' && transaction === 'all') expect(error.message).toContain('cannot undo this on MySQL/MariaDB');
      if (t.kind !== 'mariadb' && transaction === 'all') expect(error.message).toContain('nothing of this run was kept');
      if (transaction === 'each') expect(error.appliedBeforeFailure).toEqual(FIRST_TWO);
      await assertStateAfterFailure(transaction);
    });

    it('ContinueOnFailureStrategy: the app boots, readiness reports the failed migration', async () => {
      t.app = await bootApp({
        dataSources: [{ db: t.db, migrations: FAILING }],
        migrator: { runMigrations: true, strategy: ContinueOnFailureStrategy, dataSources: [{ name: 'default', transaction }] },
      });
      await assertStateAfterFailure(transaction);
      expect(t.app.app.get(AutoMigratorService).getState()).toMatchObject([
        { status: 'failed', failedMigration: 'BrokenHalfway1700000000004' },
      ]);
      const health = await t.app.app.get(MigrationsHealthIndicator).isReady();
      expect(health).toMatchObject({
        migrations: {
          status: 'down',
          dataSources: { default: { state: 'failed', failedMigration: 'BrokenHalfway1700000000004' } },
        },
      });
    });
  });

  it('RecreateOnFailureStrategy: a database that cannot be migrated is dropped and migrated from scratch', async () => {
    // A stray table (left by a crashed device, say) makes the first migration fail.
    await t.db.query('CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL)');
    await t.db.query(`INSERT INTO users (id, name) VALUES (99, 'stale')`);
    t.app = await bootApp({
      dataSources: [{ db: t.db, migrations: [CreateUsers, SeedAlice, CreatePosts] }],
      migrator: { runMigrations: true, strategy: RecreateOnFailureStrategy },
    });
    expect(await t.db.recorded()).toEqual([...FIRST_TWO, 'CreatePosts1700000000003']);
    expect(await t.db.query('SELECT id, name FROM users')).toEqual([{ id: 1, name: 'alice' }]);
    expect(t.app.app.get(AutoMigratorService).getState()).toMatchObject([{ status: 'done' }]);
    expect(t.app.logger.messages('fatal').join('\n')).toContain('dropping every table and migrating from scratch');
    expect((await t.app.app.get(MigrationsHealthIndicator).isReady()).migrations.status).toBe('up');
  });

  it('RecreateOnFailureStrategy: when migrating from scratch fails too, the app boots with the DataSource failed', async () => {
    t.app = await bootApp({
      dataSources: [{ db: t.db, migrations: FAILING }],
      migrator: { runMigrations: true, strategy: RecreateOnFailureStrategy },
    });
    expect(t.app.app.get(AutoMigratorService).getState()).toMatchObject([
      { status: 'failed', failedMigration: 'BrokenHalfway1700000000004' },
    ]);
    expect(t.app.logger.messages('fatal')).toHaveLength(2);
    expect(await t.db.recorded()).toEqual(FIRST_TWO);
  });

  it('RetryStrategy does not retry a migration whose SQL fails', async () => {
    let calls = 0;
    const Broken = defineMigration('Broken1700000000010', async (queryRunner) => {
      calls++;
      await queryRunner.query('SELECT * FROM no_such_table');
    });
    const boot = bootApp({
      dataSources: [{ db: t.db, migrations: [Broken] }],
      migrator: { runMigrations: true, strategy: new RetryStrategy(new FailFastStrategy(), { attempts: 4, initialDelayMs: 1 }) },
    });
    await expect(boot).rejects.toBeInstanceOf(MigrationFailedError);
    expect(calls).toBe(1);
  });

  const killOwnConnection: Partial<Record<DbKind, string>> = {
    postgres: 'SELECT pg_terminate_backend(pg_backend_pid())',
    mariadb: 'KILL CONNECTION_ID()',
  };
  const kill = killOwnConnection[t.kind];
  it.skipIf(!kill)('RetryStrategy retries after the connection is killed mid-migration, then succeeds', async () => {
    let calls = 0;
    const Flaky = defineMigration('Flaky1700000000011', async (queryRunner) => {
      calls++;
      if (calls === 1) await queryRunner.query(kill!);
      await sql('CREATE TABLE flaky (id INT PRIMARY KEY)')(queryRunner);
    });
    t.app = await bootApp({
      dataSources: [{ db: t.db, migrations: [Flaky] }],
      migrator: { runMigrations: true, strategy: new RetryStrategy(new FailFastStrategy(), { attempts: 3, initialDelayMs: 10 }) },
    });
    expect(calls).toBe(2);
    expect(await t.db.recorded()).toEqual(['Flaky1700000000011']);
    expect(t.app.logger.messages('warn').join('\n')).toMatch(/attempt 1 of 3 failed with a connection error; retrying in 10 ms/);
    expect(t.app.app.get(AutoMigratorService).getState()).toMatchObject([{ status: 'done' }]);
  });
});
