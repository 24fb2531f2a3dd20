import { join } from 'node:path';
import { Controller, Get, Module, type DynamicModule } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntitySchema } from 'typeorm';
import { expect, it } from 'vitest';
import { AutoMigratorService, type BuildSnapshot } from '../../lib/index.js';
import { describeEachDatabase, type DatabaseFixture } from '../support/database-suite.js';
import { defineMigration, sql, type MigrationClass } from '../support/migrations.js';
import { startNode, startTogether, type RunningProcess } from '../support/processes.js';
import { bootApp, waitFor } from '../support/test-app.js';
import { userEntity } from '../support/user-entity.js';

const FIXTURES = join(import.meta.dirname, '../fixtures');

/** The last JSON line a load fixture printed when it stopped. */
async function stopAndRead<T>(load: RunningProcess): Promise<T> {
  load.child.stdin?.write('stop\n');
  await load.exited;
  const line = load.output().trim().split('\n').at(-1)!;
  return JSON.parse(line) as T;
}

/** How many units (`requests=`, `inserts=`) a load fixture has reported so far. */
function progress(load: RunningProcess, unit: string): number {
  const counts = [...load.output().matchAll(new RegExp(`^${unit}=(\\d+)$`, 'gm'))].map((match) => Number(match[1]));
  return counts.at(-1) ?? 0;
}

/** Runs `work` while `load` goes on, and lets the load go on for `after` more units once it is done. */
async function during<T>(load: RunningProcess, unit: string, work: () => Promise<T>, after: number): Promise<{ value: T; tookMs: number }> {
  await startTogether([load]);
  await waitFor(() => /^RUNNING$/m.test(load.output()), 30_000, 'the load to start');
  const started = performance.now();
  const value = await work();
  const tookMs = Math.round(performance.now() - started);
  const reached = progress(load, unit);
  await waitFor(() => progress(load, unit) >= reached + after, 60_000, `${after} more ${unit} after the migration`);
  return { value, tookMs };
}

describeEachDatabase(
  'a lock hazard, measured: CREATE INDEX on about a million rows while another process inserts',
  (t) => {
    it('without CONCURRENTLY the inserts wait for the whole build, and check flags it naming the size; with CONCURRENTLY they do not', async () => {
      await t.db.query('CREATE TABLE big (id bigserial PRIMARY KEY, v int)');
      await t.db.query('INSERT INTO big (v) SELECT g % 1000 FROM generate_series(1, 1000000) AS g');
      await t.db.query('ANALYZE big');
      const Blocking = defineMigration('IndexBig1700000000001', sql('CREATE INDEX big_v ON big (v)'));
      const Concurrent = defineMigration('IndexBigConcurrently1700000000002', sql('CREATE INDEX CONCURRENTLY big_v2 ON big (v)'), {
        transaction: false,
      });
      const timeouts = { migrationTimeouts: { lockTimeoutMs: 60_000 } };

      const checked = async (migrations: MigrationClass[]) => {
        const app = await bootApp({ dataSources: [{ db: t.db, migrations }], migrator: { runMigrations: false, ...timeouts } });
        try {
          return (await app.app.get(AutoMigratorService).check())[0]!;
        } finally {
          await app.close();
        }
      };
      const first = await checked([Blocking]);
      expect(first.findings.map((f) => [f.severity, f.rule, f.table, f.lock])).toEqual([
        ['error', 'blocking-index', 'public.big', 'SHARE'],
      ]);
      const rows = Number(/about ([\d,]+) rows/.exec(first.findings[0]!.message)![1]!.replaceAll(',', ''));
      expect(rows).toBeGreaterThan(900_000);

      const writer = (name: string) =>
        startNode(join(FIXTURES, 'steady-writer.mjs'), { DB_URL: t.db.url, WRITE_TABLE: 'big', NAME: name }, { barrier: true });
      const migrate = (migrations: MigrationClass[]) => async () =>
        t.track(await bootApp({ dataSources: [{ db: t.db, migrations }], migrator: { runMigrations: true, ...timeouts } }));

      const blockingWriter = writer('blocking');
      const blocking = await during(blockingWriter, 'inserts', migrate([Blocking]), 100);
      const blocked = await stopAndRead<{ inserts: number; maxMs: number; failed: number }>(blockingWriter);

      const second = await checked([Blocking, Concurrent]);
      // The blocking index is applied now; the CONCURRENTLY one runs committed in the shadow, checked and found safe.
      expect(second).toMatchObject({ findings: [], checked: ['IndexBigConcurrently1700000000002'], unchecked: [] });

      const concurrentWriter = writer('concurrent');
      const concurrent = await during(concurrentWriter, 'inserts', migrate([Blocking, Concurrent]), 100);
      const unblocked = await stopAndRead<{ inserts: number; maxMs: number; failed: number }>(concurrentWriter);

      console.log(
        `[lock hazard] ${rows.toLocaleString('en-US')} rows: longest insert ${blocked.maxMs} ms while CREATE INDEX ran (migration boot ${blocking.tookMs} ms, ${blocked.inserts} inserts); ` +
          `${unblocked.maxMs} ms while CREATE INDEX CONCURRENTLY ran (boot ${concurrent.tookMs} ms, ${unblocked.inserts} inserts)`,
      );
      expect(
        await t.db.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'big' AND indexname IN ('big_v', 'big_v2') ORDER BY 1`),
      ).toEqual([{ indexname: 'big_v' }, { indexname: 'big_v2' }]);
      expect([blocked.failed, unblocked.failed]).toEqual([0, 0]);
      expect(blocked.maxMs).toBeGreaterThanOrEqual(100);
      expect(blocked.maxMs).toBeGreaterThan(3 * unblocked.maxMs);
    });
  },
  ['postgres'],
);

const CreateUsers = defineMigration(
  'CreateUsers1700000000001',
  sql(
    'CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50), nickname VARCHAR(50))',
    "INSERT INTO users VALUES (1, 'ada', 'a'), (2, 'alan', 'al')",
  ),
);
const DropNickname = defineMigration('DropNickname1700000000002', sql('ALTER TABLE users DROP COLUMN nickname'));

/** The release serving traffic: its entity maps `columns` of users; GET /users selects them. */
function release(columns: Parameters<typeof userEntity>[0]): { entity: EntitySchema; module: DynamicModule } {
  const entity = userEntity(columns);
  @Controller('users')
  class UsersController {
    constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

    @Get()
    list() {
      return this.dataSource.getRepository('User').find({ take: 5 });
    }
  }
  @Module({ controllers: [UsersController] })
  class UsersModule {}
  return { entity, module: { module: UsersModule } };
}

async function rollingDeploy(t: DatabaseFixture, oldColumns: Parameters<typeof userEntity>[0]) {
  const { entity, module } = release(oldColumns);
  const old = t.track(
    await bootApp({
      dataSources: [{ db: t.db, migrations: [CreateUsers], options: { entities: [entity] } }],
      migrator: { runMigrations: true },
      imports: [module],
      listen: true,
    }),
  );
  const snapshot: BuildSnapshot = await old.app.get(AutoMigratorService).snapshot({ build: 'old' });
  // The new release's check, before it deploys, against the snapshot the old release wrote.
  const checker = t.track(
    await bootApp({
      dataSources: [{ db: t.db, migrations: [CreateUsers, DropNickname] }],
      migrator: { runMigrations: false, migrationTimeouts: { lockTimeoutMs: 5000 } },
    }),
  );
  const [checked] = await checker.app.get(AutoMigratorService).check({ snapshot });
  await checker.close();
  const load = startNode(join(FIXTURES, 'steady-load.mjs'), { LOAD_URL: `${old.url}/users` }, { barrier: true });
  // The new release boots and migrates while the old one serves.
  await during(
    load,
    'requests',
    async () =>
      t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [CreateUsers, DropNickname] }], migrator: { runMigrations: true } })),
    50,
  );
  const served = await stopAndRead<{ requests: number; failed: number; statuses: Record<string, number> }>(load);
  return { checked: checked!, served };
}

describeEachDatabase(
  'a rolling deploy, measured: the old release serves HTTP under load while the new one migrates',
  (t) => {
    it('a migration dropping a column the old release still maps: its requests fail from the drop on; check flags it from the snapshot', async () => {
      const { checked, served } = await rollingDeploy(t, ['name', 'nickname']);
      console.log(
        `[rolling deploy] dropping a mapped column: ${served.failed} of ${served.requests} requests of the old release failed (${JSON.stringify(served.statuses)})`,
      );
      // The load went on for 50 requests past the progress line seen when the migration ended (lines come
      // every 10 requests): at least 40 of them started after the drop, and every one of those fails.
      expect(served.failed).toBeGreaterThanOrEqual(40);
      expect(checked.findings.map((f) => [f.severity, f.rule, f.column])).toEqual([['error', 'drop-column', 'nickname']]);
      expect(checked.findings[0]!.message).toMatch(
        /the previous release \(build old\) maps (public|am_\w+)\.users \(User\), with "nickname"/,
      );
    });

    it('the two-release version (the old release no longer maps it): no request fails, and no finding', async () => {
      const { checked, served } = await rollingDeploy(t, ['name']);
      console.log(`[rolling deploy] two releases: ${served.failed} of ${served.requests} requests of the old release failed`);
      expect(served.failed).toBe(0);
      expect(served.requests).toBeGreaterThanOrEqual(50);
      expect(checked.findings).toEqual([]);
    });
  },
  // MariaDB: the check runs in a shadow with the live schema (the server's answer), as on PostgreSQL.
  ['postgres', 'mariadb'],
);
