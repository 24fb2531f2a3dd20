import { join } from 'node:path';
import { expect, it } from 'vitest';
import { FailFastStrategy, RetryStrategy } from '../../lib/index.js';
import { describeEachDatabase, type DatabaseFixture } from '../support/database-suite.js';
import { defineMigration, sleepSql } from '../support/migrations.js';
import { freePort, startNode } from '../support/processes.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { bootApp, waitFor } from '../support/test-app.js';

const REPLICA = join(import.meta.dirname, '../fixtures/replica.mjs');
/**
 * The check these tests configure: a dead connection is declared within intervalMs + timeoutMs = 6 s.
 * timeoutMs covers a fresh connection's login too: 2 s gave false alarms on 2 loaded cores.
 */
const CHECK = { intervalMs: 1_000, timeoutMs: 5_000 };
/** Generous: a correctness bound, not a benchmark (2 shared cores). */
const DETECTION_BOUND_MS = 20_000;

async function proxyFor(t: DatabaseFixture): Promise<TcpProxy> {
  const proxy = TcpProxy.forUrl(await freePort(), t.db.url, t.kind === 'postgres' ? 5432 : 3306);
  await proxy.start();
  return proxy;
}

type Detail = Record<string, unknown>;

async function readiness(url: string): Promise<{ status: number; detail: Detail | undefined }> {
  const response = await fetch(`${url}/health/ready`);
  const body = (await response.json()) as {
    error?: { migrations?: { dataSources?: Record<string, Detail> } };
    info?: { migrations?: { dataSources?: Record<string, Detail> } };
  };
  return { status: response.status, detail: (body.error ?? body.info)?.migrations?.dataSources?.['default'] };
}

describeEachDatabase(
  'a silent network partition mid-migration',
  (t) => {
    it('readiness leaves running for failed within the connection check bound, naming the cause and the host', async () => {
      const proxy = await proxyFor(t);
      try {
        const Partitioned = defineMigration('Partitioned1700000000090', async (q) => q.query(sleepSql(t.kind, 120)!));
        const app = t.track(
          await bootApp({
            dataSources: [{ db: t.db, migrations: [Partitioned], options: { url: proxy.route(t.db.url) } as never }],
            migrator: { runMigrations: true, mode: 'background', strategy: FailFastStrategy, connectionCheck: CHECK },
            listen: true,
          }),
        );
        await waitFor(
          async () => (await readiness(app.url)).detail?.['running'] === 'Partitioned1700000000090',
          40_000,
          'the migration to run',
        );
        const partitionedAt = Date.now();
        proxy.blackHole({ newConnections: true });
        const failed = await waitFor(
          async () => {
            const { status, detail } = await readiness(app.url);
            return status === 503 && detail?.['state'] === 'failed' ? detail : undefined;
          },
          DETECTION_BOUND_MS + 5_000,
          'readiness to say failed',
        );
        const detectedMs = Date.now() - partitionedAt;
        console.log(`[${t.kind}] partition detected after ${detectedMs} ms (bound ${CHECK.intervalMs + CHECK.timeoutMs} ms)`);
        expect(detectedMs).toBeLessThan(DETECTION_BOUND_MS);
        expect(failed).toMatchObject({ failedMigration: 'Partitioned1700000000090' });
        expect(String(failed['error'])).toMatch(
          new RegExp(
            `^DataSource "default": migration "Partitioned1700000000090" failed: its migration connection to 127\\.0\\.0\\.1:${proxy.port} stopped answering \\(a check on another connection got no answer within 5000 ms \\(connectionCheck\\.timeoutMs\\)\\)`,
          ),
        );
        expect(app.logger.text()).not.toMatch(/Unhandled/);
      } finally {
        await proxy.stop();
      }
    });

    it('under RetryStrategy, readiness leaves running for retrying within the bound, with the cause', async () => {
      const proxy = await proxyFor(t);
      try {
        const Partitioned = defineMigration('Partitioned1700000000091', async (q) => q.query(sleepSql(t.kind, 120)!));
        const app = t.track(
          await bootApp({
            dataSources: [{ db: t.db, migrations: [Partitioned], options: { url: proxy.route(t.db.url) } as never }],
            migrator: {
              runMigrations: true,
              mode: 'background',
              strategy: new RetryStrategy(new FailFastStrategy(), { attempts: 3, initialDelayMs: 60_000, factor: 1 }),
              connectionCheck: CHECK,
            },
            listen: true,
          }),
        );
        await waitFor(
          async () => (await readiness(app.url)).detail?.['running'] === 'Partitioned1700000000091',
          40_000,
          'the migration to run',
        );
        const partitionedAt = Date.now();
        proxy.blackHole({ newConnections: true });
        const retrying = await waitFor(
          async () => {
            const { detail } = await readiness(app.url);
            return detail?.['state'] === 'retrying' ? detail : undefined;
          },
          DETECTION_BOUND_MS + 5_000,
          'readiness to say retrying',
        );
        expect(Date.now() - partitionedAt).toBeLessThan(DETECTION_BOUND_MS);
        expect(retrying).toMatchObject({ attempt: 1, attempts: 3 });
        expect(String(retrying['error'])).toMatch(/stopped answering \(a check on another connection got no answer within 5000 ms/);
      } finally {
        await proxy.stop();
      }
    });

    it('a SIGTERM after the partition was detected ends the process by the signal', async () => {
      const proxy = await proxyFor(t);
      try {
        const app = startNode(REPLICA, {
          DB_KIND: t.kind,
          DB_URL: proxy.route(t.db.url),
          HTTP: '1',
          SLOW_MS: '120000',
          SHUTDOWN_GRACE_MS: '1000',
          CONNECTION_CHECK: JSON.stringify(CHECK),
          // Alive when the signal comes (by itself it would exit with code 1 once bootstrap failed).
          STAY_UP: '1',
        });
        await waitFor(() => app.output().includes('SLOW_STARTED'), 90_000, 'the slow migration to start');
        proxy.blackHole({ newConnections: true });
        await waitFor(() => app.output().includes('BOOT_FAILED'), DETECTION_BOUND_MS + 5_000, 'bootstrap to fail');
        expect(app.output()).toMatch(
          /BOOT_FAILED MigrationFailedError: DataSource "default": migration "SlowReport1700000000003" failed: its migration connection to 127\.0\.0\.1:\d+ stopped answering/,
        );
        app.child.kill('SIGTERM');
        const exit = await Promise.race([app.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 60_000))]);
        expect(exit, app.output()).toBe('SIGTERM');
        expect(app.output()).not.toMatch(/Unhandled|ERROR_DURING_SHUTDOWN|Error during shutdown/);
        if (exit === 'still running') await app.stop('SIGKILL');
      } finally {
        await proxy.stop();
      }
    });
  },
  ['postgres', 'mariadb'],
);
