import { expect, it } from 'vitest';
import { AutoMigratorConfigError, AutoMigratorService, MigrationHistoryError, PendingMigrationsError } from '../../lib/index.js';
import type { MigrationEvent } from '../../lib/index.js';
import { describeEachDatabase } from '../support/database-suite.js';
import { defineMigration, sql, tableMigration } from '../support/migrations.js';
import { bootApp, waitFor } from '../support/test-app.js';

const M1 = tableMigration('One1700000000001', 'one');
const M2 = tableMigration('Two1700000000002', 'two');
const M3 = tableMigration('Three1700000000003', 'three');
const M4 = tableMigration('Four1700000000004', 'four');
/** Older than M3: out of order once it is applied. */
const Late = tableMigration('LateFix1700000000001', 'late');
const LATE = tableMigration('LateMerge1700000000002', 'late_merge');

describeEachDatabase('release-time operations', (t) => {
  async function boot(
    migrations: Parameters<typeof bootApp>[0]['dataSources'][0]['migrations'],
    migrator: Parameters<typeof bootApp>[0]['migrator'] = { runMigrations: false },
  ) {
    return t.track(await bootApp({ dataSources: [{ db: t.db, migrations }], migrator }));
  }

  it('status reports applied (in order), pending and unknown migrations', async () => {
    await boot([M1, M2, M3], { runMigrations: true });
    // A build that lost M3 (code rolled back) and gained M4.
    const app = await boot([M1, M2, M4]);
    const [status] = await app.app.get(AutoMigratorService).status();
    expect(status).toMatchObject({
      dataSource: 'default',
      applied: [
        { name: 'One1700000000001', timestamp: 1700000000001 },
        { name: 'Two1700000000002', timestamp: 1700000000002 },
      ],
      pending: [{ name: 'Four1700000000004', timestamp: 1700000000004 }],
      unknown: [{ name: 'Three1700000000003' }],
      outOfOrder: [],
    });
    expect(status!.applied[0]!.order).toBeLessThan(status!.applied[1]!.order);
    // status() itself logs nothing; the disabled boot said once what is pending (no history warning).
    expect(app.logger.messages('warn')).toEqual([
      expect.stringMatching(/^DataSource "default": 1 pending migration not run by this process: Four1700000000004\./),
    ]);
  });

  it('up applies what is pending; ensureUp throws PendingMigrationsError before and passes after', async () => {
    const app = await boot([M1, M2]);
    const service = app.app.get(AutoMigratorService);
    const ensure = service.ensureUp();
    await expect(ensure).rejects.toBeInstanceOf(PendingMigrationsError);
    await expect(ensure).rejects.toMatchObject({
      pending: { default: ['One1700000000001', 'Two1700000000002'] },
      message: expect.stringContaining('DataSource "default": One1700000000001, Two1700000000002'),
    });
    expect(await service.up()).toEqual([{ dataSource: 'default', status: 'done', applied: ['One1700000000001', 'Two1700000000002'] }]);
    await expect(service.ensureUp()).resolves.toMatchObject([
      { dataSource: 'default', pending: [], applied: [{ name: 'One1700000000001' }, { name: 'Two1700000000002' }] },
    ]);
    expect(await t.db.recorded()).toEqual(['One1700000000001', 'Two1700000000002']);
  });

  it('down reverts newest first to a version; a version that is not applied reverts nothing; 0 reverts all', async () => {
    await boot([M1, M2, M3], { runMigrations: true });
    const app = await boot([M1, M2, M3]);
    const service = app.app.get(AutoMigratorService);

    await expect(service.down({ to: 'Nope1700000000009' })).rejects.toBeInstanceOf(AutoMigratorConfigError);
    await expect(service.down({ to: '1700000000009' })).rejects.toThrow(
      /--to "1700000000009" is not an applied migration .* Applied: One1700000000001, Two1700000000002, Three1700000000003\. Nothing was reverted\./,
    );
    expect(await t.db.recorded()).toEqual(['One1700000000001', 'Two1700000000002', 'Three1700000000003']);

    const events: MigrationEvent[] = [];
    const subscription = service.events$.subscribe((event) => events.push(event));
    const result = await service.down({ to: 1700000000001 });
    subscription.unsubscribe();
    expect(result).toMatchObject({ dataSource: 'default', reverted: ['Three1700000000003', 'Two1700000000002'] });
    // Each reverted migration is an event (the log line is written from it), then what is pending.
    expect(events.map((event) => [event.type, 'migration' in event ? event.migration : undefined])).toEqual([
      ['migration-reverted', 'Three1700000000003'],
      ['migration-reverted', 'Two1700000000002'],
      ['history-changed', undefined],
    ]);
    expect(await t.db.recorded()).toEqual(['One1700000000001']);
    const tables = await t.db.tables();
    expect(tables).toContain('one');
    expect(tables).not.toContain('two');
    expect(tables).not.toContain('three');
    expect(app.logger.messages('log')).toEqual(
      expect.arrayContaining([expect.stringMatching(/\[1\/2\] Three1700000000003 reverted in \d+ ms/)]),
    );
    expect(service.getState()).toMatchObject([{ status: 'pending', pending: 2 }]);

    expect((await service.down({ to: 0 })).reverted).toEqual(['One1700000000001']);
    expect(await t.db.recorded()).toEqual([]);
  });

  it('down refuses to revert a migration this build does not have, before reverting anything', async () => {
    await boot([M1, M2, M3], { runMigrations: true });
    const app = await boot([M1, M2]);
    await expect(app.app.get(AutoMigratorService).down({ to: 0 })).rejects.toThrow(
      /cannot revert "Three1700000000003": not in this build.*Nothing was reverted/,
    );
    expect(await t.db.recorded()).toEqual(['One1700000000001', 'Two1700000000002', 'Three1700000000003']);
  });

  it('plan runs the pending migrations where nothing is kept (PostgreSQL, MariaDB: a shadow database; SQLite: rolled back)', async () => {
    await boot([M1], { runMigrations: true });
    const app = await boot([M1, M2, M3]);
    const service = app.app.get(AutoMigratorService);
    const before = { tables: await t.db.tables(), recorded: await t.db.recorded() };
    {
      const [plan] = await service.plan();
      expect(plan).toEqual({
        dataSource: 'default',
        pending: 2,
        complete: true,
        migrations: [
          // On PostgreSQL each statement also carries the locks the shadow saw (on the tables it creates).
          { name: 'Two1700000000002', statements: [expect.objectContaining({ sql: 'CREATE TABLE two (id INT PRIMARY KEY)' })] },
          { name: 'Three1700000000003', statements: [expect.objectContaining({ sql: 'CREATE TABLE three (id INT PRIMARY KEY)' })] },
        ],
      });
    }
    expect({ tables: await t.db.tables(), recorded: await t.db.recorded() }).toEqual(before);
  });

  it.runIf(t.kind === 'mariadb')(
    'MariaDB: a pending migration naming the live database stops the plan before it is sent; the temporary database is dropped',
    async () => {
      await boot([M1], { runMigrations: true });
      const Reach = defineMigration('Reach1700000000005', sql(`INSERT INTO \`${t.db.name}\`.one (id) VALUES (1)`));
      // A trigger's BEGIN … END body is not a transaction's end.
      const Trigger = defineMigration(
        'Trigger1700000000004',
        sql('CREATE TRIGGER two_touch BEFORE INSERT ON two FOR EACH ROW BEGIN SET NEW.id = NEW.id; END'),
      );
      const app = await boot([M1, M2, Trigger, Reach]);
      const [plan] = await app.app.get(AutoMigratorService).plan();
      expect(plan).toMatchObject({
        complete: false,
        migrations: [
          { name: 'Two1700000000002', statements: [{ sql: 'CREATE TABLE two (id INT PRIMARY KEY)' }] },
          { name: 'Trigger1700000000004', statements: [{ sql: expect.stringMatching(/^CREATE TRIGGER two_touch/) }] },
          { name: 'Reach1700000000005', error: expect.stringMatching(new RegExp(`sends a name in database "${t.db.name}"`)) },
        ],
      });
      expect(await t.db.query('SELECT * FROM one')).toEqual([]);
      expect(await t.db.tables()).not.toContain('two');
      const shadows = await t.db.query(
        // This process's own (the name holds its pid): other test files make shadows meanwhile.
        `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'auto\\_migrator\\_shadow\\_%\\_${process.pid}\\_%'`,
      );
      expect(shadows).toEqual([]);
    },
  );

  it("whenDisabled 'verify' fails the boot listing what is pending, and boots when nothing is", async () => {
    const boot1 = bootApp({
      dataSources: [{ db: t.db, migrations: [M1, M2] }],
      migrator: { runMigrations: false, whenDisabled: 'verify' },
    });
    await expect(boot1).rejects.toBeInstanceOf(PendingMigrationsError);
    await expect(boot1).rejects.toThrow(/DataSource "default": One1700000000001, Two1700000000002/);
    expect(await t.db.tables()).toEqual([]);

    await boot([M1, M2], { runMigrations: true });
    const app = await boot([M1, M2], { runMigrations: false, whenDisabled: 'verify' });
    expect((await app.app.get(AutoMigratorService).getReadiness()).ready).toBe(true);
  });

  it("whenDisabled 'wait' boots, stays unready until a release job applies the migrations, then becomes ready", async () => {
    const app = await boot([M1, M2], { runMigrations: false, whenDisabled: 'wait', pendingCheckTtlMs: 50 });
    const service = app.app.get(AutoMigratorService);
    expect(await service.getReadiness()).toEqual({
      ready: false,
      dataSources: { default: { state: 'disabled', pending: 2, pendingMigrations: ['One1700000000001', 'Two1700000000002'], applied: 0 } },
    });
    // Polls with nothing changed log at debug level: one line at log level, not one per poll.
    const waitingLine = (line: string) => line.includes('Waiting for another process to apply 2 pending migration(s) of "default"');
    await waitFor(() => app.logger.messages('debug').filter(waitingLine).length >= 2, 10_000, 'two polls');
    expect(app.logger.messages('log').filter(waitingLine)).toHaveLength(1);
    // The "release job": another application context with RUN_MIGRATIONS on.
    await boot([M1, M2], { runMigrations: true });
    await waitFor(async () => (await service.getReadiness()).ready, 10_000, 'readiness after the release job');
  });

  it("out-of-order and unknown migrations: warnings by default (readiness up), a boot failure with 'fail'", async () => {
    await boot([M1, M2, M3], { runMigrations: true });
    const warned = await boot([M1, M2, LATE, Late], { runMigrations: true });
    const warnings = warned.logger.messages('warn').join('\n');
    expect(warnings).toContain(
      'pending but older than the newest applied migration (out of order): LateFix1700000000001, LateMerge1700000000002',
    );
    expect(warnings).toContain('applied but not in this build (unknown): Three1700000000003');
    expect((await warned.app.get(AutoMigratorService).getReadiness()).ready).toBe(true);
    expect(await t.db.recorded()).toEqual(expect.arrayContaining(['LateFix1700000000001', 'LateMerge1700000000002']));

    const unknownFails = bootApp({
      dataSources: [{ db: t.db, migrations: [M1, M2, M4] }],
      migrator: { runMigrations: true, unknownMigrations: 'fail' },
    });
    await expect(unknownFails).rejects.toBeInstanceOf(MigrationHistoryError);
    await expect(unknownFails).rejects.toMatchObject({
      unknown: ['Three1700000000003', 'LateFix1700000000001', 'LateMerge1700000000002'],
      outOfOrder: [],
    });
    expect(await t.db.recorded()).not.toContain('Four1700000000004');

    const lateAgain = tableMigration('Later1700000000002', 'later');
    await expect(
      bootApp({
        dataSources: [{ db: t.db, migrations: [M1, M2, M3, lateAgain, LATE, Late] }],
        migrator: { runMigrations: false, whenDisabled: 'verify', outOfOrder: 'fail' },
      }),
    ).rejects.toMatchObject({ name: 'MigrationHistoryError', outOfOrder: ['Later1700000000002'] });
  });
});
