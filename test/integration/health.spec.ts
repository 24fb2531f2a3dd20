import type { AddressInfo } from 'node:net';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { expect, it } from 'vitest';
import { AutoMigratorModule, AutoMigratorService, ContinueOnFailureStrategy, MigrationsHealthIndicator } from '../../lib/index.js';
import { BrokenHalfway, CreatePosts, CreateUsers, defineMigration, SeedAlice, sleepSql } from '../support/migrations.js';
import { describeEachDatabase } from '../support/database-suite.js';
import { bootApp, waitFor } from '../support/test-app.js';

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describeEachDatabase('readiness over HTTP', (t) => {
  it('background mode: the server listens and /health/live answers while a slow migration runs; /health/ready is 503 until it ends', async () => {
    let release = false;
    const sleep = sleepSql(t.kind, 0.05);
    const Slow = defineMigration('SlowBackfill1700000000005', async (queryRunner) => {
      await queryRunner.query('CREATE TABLE backfill (id INT PRIMARY KEY)');
      // The database itself is busy (pg_sleep / SLEEP) until the test lets the migration end.
      while (!release) {
        if (sleep) await queryRunner.query(sleep);
        else await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    t.app = await bootApp({
      dataSources: [{ db: t.db, migrations: [CreateUsers, Slow, CreatePosts] }],
      migrator: { runMigrations: true, mode: 'background' },
      listen: true,
    });
    const service = t.app.app.get(AutoMigratorService);
    await waitFor(() => service.getState()[0]?.current?.name === 'SlowBackfill1700000000005', 15_000, 'the slow migration to start');

    expect(await get(`${t.app.url}/health/live`)).toEqual({ status: 200, body: { status: 'ok' } });
    const during = await get(`${t.app.url}/health/ready`);
    expect(during.status).toBe(503);
    expect(during.body).toMatchObject({
      status: 'error',
      error: {
        migrations: {
          status: 'down',
          dataSources: { default: { state: 'running', running: 'SlowBackfill1700000000005', index: 3, total: 3 } },
        },
      },
    });

    release = true;
    const after = await waitFor(
      async () => {
        const response = await get(`${t.app!.url}/health/ready`);
        return response.status === 200 ? response : undefined;
      },
      15_000,
      '/health/ready to answer 200',
    );
    expect(after.body).toMatchObject({
      status: 'ok',
      info: { migrations: { status: 'up', dataSources: { default: { state: 'done', pending: 0, applied: 3 } } } },
    });
    expect(await t.db.recorded()).toEqual(['CreateUsers1700000000001', 'CreatePosts1700000000003', 'SlowBackfill1700000000005']);
  });

  it('a failed DataSource under ContinueOnFailureStrategy answers 503 with the failed migration', async () => {
    t.app = await bootApp({
      dataSources: [{ db: t.db, migrations: [CreateUsers, SeedAlice, BrokenHalfway] }],
      migrator: { runMigrations: true, strategy: ContinueOnFailureStrategy },
      listen: true,
    });
    const ready = await get(`${t.app.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({
      error: {
        migrations: {
          status: 'down',
          dataSources: {
            default: {
              state: 'failed',
              failedMigration: 'BrokenHalfway1700000000004',
              error: expect.stringContaining('migration "BrokenHalfway1700000000004" failed'),
            },
          },
        },
      },
    });
  });
});

/** The README's controller, in a feature module of its own (where Nest apps keep health). */
@Controller('health')
class FeatureHealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly migrations: MigrationsHealthIndicator,
  ) {}

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.migrations.isReady()]);
  }
}

@Module({ imports: [TerminusModule], controllers: [FeatureHealthController] })
class HealthModule {}

describeEachDatabase('readiness from a feature HealthModule', (t) => {
  it('a HealthModule importing only TerminusModule injects the indicator (forRootAsync, global prefix "api")', async () => {
    const app = await NestFactory.create(
      {
        module: class AppModule {},
        imports: [
          TypeOrmModule.forRoot({ ...t.db.options, migrations: [CreateUsers] } as TypeOrmModuleOptions),
          AutoMigratorModule.forRootAsync({ useFactory: () => ({ runMigrations: true }) }),
          HealthModule,
        ],
      },
      { logger: false, abortOnError: false },
    );
    try {
      app.setGlobalPrefix('api');
      await app.listen(0, '127.0.0.1');
      const { port } = app.getHttpServer().address() as AddressInfo;
      const ready = await get(`http://127.0.0.1:${port}/api/health/ready`);
      expect(ready).toMatchObject({ status: 200, body: { status: 'ok', info: { migrations: { status: 'up' } } } });
      expect(await t.db.recorded()).toEqual(['CreateUsers1700000000001']);
    } finally {
      await app.close();
    }
  });
});

describeEachDatabase(
  'readiness while migrations are disabled',
  (t) => {
    it('answers 503 with the pending count, and 200 once another process applied them', async () => {
      const migrations = [CreateUsers, SeedAlice];
      const waiting = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations }],
          migrator: { runMigrations: false, pendingCheckTtlMs: 0 },
          listen: true,
        }),
      );
      const before = await get(`${waiting.url}/health/ready`);
      expect(before.status).toBe(503);
      expect(before.body).toMatchObject({ error: { migrations: { dataSources: { default: { state: 'disabled', pending: 2 } } } } });

      t.track(await bootApp({ dataSources: [{ db: t.db, migrations }], migrator: { runMigrations: true } }));
      const after = await get(`${waiting.url}/health/ready`);
      expect(after.status).toBe(200);
      expect(after.body).toMatchObject({ info: { migrations: { dataSources: { default: { state: 'disabled', pending: 0 } } } } });
    });

    it('the boot warns what is pending and how to run it; readiness names it (full), counts only (counts)', async () => {
      const disabled = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [CreateUsers, SeedAlice] }],
          migrator: { runMigrations: false },
          listen: true,
        }),
      );
      expect(disabled.logger.messages('warn')).toEqual([
        'DataSource "default": 2 pending migrations not run by this process: CreateUsers1700000000001, SeedAlice1700000000002. ' +
          'Readiness stays down until they are applied: run them from a release Job (npx auto-migrator up --app <your compiled app module>) ' +
          'or with option runMigrations on in one process.',
      ]);
      const full = await get(`${disabled.url}/health/ready`);
      expect(full.body).toMatchObject({
        error: {
          migrations: {
            dataSources: {
              default: { state: 'disabled', pending: 2, pendingMigrations: ['CreateUsers1700000000001', 'SeedAlice1700000000002'] },
            },
          },
        },
      });
      const counts = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [CreateUsers, SeedAlice] }],
          migrator: { runMigrations: false, readinessDetails: 'counts' },
          listen: true,
        }),
      );
      const countsOnly = await get(`${counts.url}/health/ready`);
      expect(countsOnly.body).toMatchObject({ error: { migrations: { dataSources: { default: { state: 'disabled', pending: 2 } } } } });
      expect(JSON.stringify(countsOnly.body)).not.toContain('CreateUsers');
    });

    it('asks the database at most once per pendingCheckTtlMs', async () => {
      const migrations = [CreateUsers];
      const waiting = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations }],
          migrator: { runMigrations: false, pendingCheckTtlMs: 60_000 },
          listen: true,
        }),
      );
      expect((await get(`${waiting.url}/health/ready`)).status).toBe(503);
      t.track(await bootApp({ dataSources: [{ db: t.db, migrations }], migrator: { runMigrations: true } }));
      // Still the cached answer: the TTL has not expired.
      expect((await get(`${waiting.url}/health/ready`)).status).toBe(503);
    });
  },
  ['postgres'],
);
