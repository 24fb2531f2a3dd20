import { expect, it } from 'vitest';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { AutoMigratorService, MigrationHistoryError } from '../../lib/index.js';
import { ChecksumTable } from '../../lib/history/migration-checksums.js';
import { buildChecksum } from '../../lib/plan/migration-checksum.js';
import { describeEachDatabase } from '../support/database-suite.js';
import type { MigrationClass } from '../support/migrations.js';
import { recordQueries } from '../support/recorded-queries.mjs';
import { bootApp } from '../support/test-app.js';

// Written out as TypeORM generates them: each up() holds its own SQL, so its checksum covers it.
class Things1700000000001 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE things (id INT PRIMARY KEY)');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE things');
  }
}

/** Things as someone edited it after it ran: another column. */
class ThingsEdited implements MigrationInterface {
  name = 'Things1700000000001';
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE things (id INT PRIMARY KEY, note VARCHAR(20))');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE things');
  }
}

/** Things with only its down() and a comment edited: nothing that ran changed. */
class ThingsHarmlessEdit implements MigrationInterface {
  name = 'Things1700000000001';
  async up(queryRunner: QueryRunner): Promise<void> {
    // the table of things
    await queryRunner.query('CREATE TABLE things (id INT PRIMARY KEY)');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE IF EXISTS things');
  }
}

class Notes1700000000002 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE notes (id INT PRIMARY KEY)');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE notes');
  }
}

/** Notes as someone edited it, then reverted and ran again with TypeORM's own CLI. */
class NotesEdited implements MigrationInterface {
  name = 'Notes1700000000002';
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(20))');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE notes');
  }
}

const CHANGED_WARNING = /applied, and changed since \(its up\(\) differs from the one that ran\): Things1700000000001/;

describeEachDatabase('checksums of applied migrations', (t) => {
  async function boot(migrations: MigrationClass[], migrator: Parameters<typeof bootApp>[0]['migrator'] = { runMigrations: true }) {
    return t.track(await bootApp({ dataSources: [{ db: t.db, migrations }], migrator }));
  }

  async function checksumRows(): Promise<Array<{ name: string; origin: string }>> {
    return t.db.query<{ name: string; origin: string }>('SELECT name, origin FROM migrations_checksums ORDER BY name');
  }

  it("an edited up() warns at boot (the default) and stays ready; with changedMigrations: 'fail' the boot fails naming it", async () => {
    await boot([Things1700000000001, Notes1700000000002]);
    expect(await checksumRows()).toEqual([
      { name: 'Notes1700000000002', origin: 'applied' },
      { name: 'Things1700000000001', origin: 'applied' },
    ]);

    const harmless = await boot([ThingsHarmlessEdit, Notes1700000000002]);
    expect(harmless.logger.messages('warn')).toEqual([]);

    const warned = await boot([ThingsEdited, Notes1700000000002]);
    expect(warned.logger.messages('warn')).toEqual([expect.stringMatching(CHANGED_WARNING)]);
    expect(await warned.app.get(AutoMigratorService).getReadiness()).toMatchObject({ ready: true });
    const [status] = await warned.app.get(AutoMigratorService).status();
    expect(status!.changed).toEqual([
      {
        name: 'Things1700000000001',
        appliedAt: expect.any(Date),
        recordedAs: 'applied',
        recordedAt: expect.any(Date),
        recorded: expect.stringMatching(/^v1:/),
        current: expect.stringMatching(/^v1:/),
      },
    ]);

    const failing = bootApp({
      dataSources: [{ db: t.db, migrations: [ThingsEdited, Notes1700000000002] }],
      migrator: { runMigrations: true, changedMigrations: 'fail' },
    });
    await expect(failing).rejects.toBeInstanceOf(MigrationHistoryError);
    await expect(failing).rejects.toMatchObject({
      changed: ['Things1700000000001'],
      message: expect.stringMatching(/migrations table does not fit this build: applied, and changed since .*Things1700000000001/),
    });
  });

  it("with migrations off (a release Job migrates): a boot warns of a changed migration in every whenDisabled mode; changedMigrations: 'fail' fails it; ensureUp judges too", async () => {
    await boot([Things1700000000001, Notes1700000000002]);
    for (const whenDisabled of ['skip', 'wait', 'verify'] as const) {
      const off = await boot([ThingsEdited, Notes1700000000002], { runMigrations: false, whenDisabled });
      expect(off.logger.messages('warn'), whenDisabled).toEqual([expect.stringMatching(CHANGED_WARNING)]);
      expect(await off.app.get(AutoMigratorService).getReadiness()).toMatchObject({ ready: true });
      const failing = bootApp({
        dataSources: [{ db: t.db, migrations: [ThingsEdited, Notes1700000000002] }],
        migrator: { runMigrations: false, whenDisabled, changedMigrations: 'fail' },
      });
      await expect(failing, whenDisabled).rejects.toMatchObject({ name: 'MigrationHistoryError', changed: ['Things1700000000001'] });
    }
    const app = await boot([ThingsEdited, Notes1700000000002], { runMigrations: false });
    const service = app.app.get(AutoMigratorService);
    await expect(service.ensureUp()).resolves.toHaveLength(1);
    await expect(service.ensureUp({ strict: true })).rejects.toMatchObject({
      name: 'MigrationHistoryError',
      changed: ['Things1700000000001'],
    });
    // A question asked of the table: the refusal is the caller's, readiness stays as it was.
    expect(await service.getReadiness()).toMatchObject({ ready: true });
  });

  it('a history applied by TypeORM itself gets a baseline and no report; an edit after that is reported against it', async () => {
    const typeorm = new DataSource({ ...t.db.options, migrations: [Things1700000000001, Notes1700000000002] } as never);
    await typeorm.initialize();
    await typeorm.runMigrations();
    await typeorm.destroy();

    const first = await boot([Things1700000000001, Notes1700000000002]);
    expect(first.logger.messages('warn')).toEqual([]);
    expect(await checksumRows()).toEqual([
      { name: 'Notes1700000000002', origin: 'baseline' },
      { name: 'Things1700000000001', origin: 'baseline' },
    ]);
    expect((await first.app.get(AutoMigratorService).status())[0]!.changed).toEqual([]);

    const edited = await boot([ThingsEdited, Notes1700000000002], { runMigrations: false });
    const [status] = await edited.app.get(AutoMigratorService).status();
    expect(status!.changed).toMatchObject([{ name: 'Things1700000000001', recordedAs: 'baseline' }]);
    expect(status!.changed[0]).not.toHaveProperty('appliedAt');
  });

  it('a baseline never replaces a checksum a run wrote (replicas race for it); a name listed twice is recorded once', async () => {
    const app = await boot([ThingsEdited, Notes1700000000002]);
    const dataSource = app.app.get(DataSource);
    const before = await t.db.query('SELECT name, checksum, origin FROM migrations_checksums ORDER BY name');
    // What a replica of another build does when it read the table before this run wrote its checksums.
    const runner = dataSource.createQueryRunner();
    try {
      await new ChecksumTable(dataSource, runner).record(['Things1700000000001', 'Things1700000000001', 'Notes1700000000002'], 'baseline');
    } finally {
      await runner.release();
    }
    expect(await t.db.query('SELECT name, checksum, origin FROM migrations_checksums ORDER BY name')).toEqual(before);
  });

  it('a rebuild that compiled up() to another text, its checksum the same: no report, and the new text is recorded', async () => {
    await boot([Things1700000000001, Notes1700000000002]);
    // As if another compiler had built what ran.
    await t.db.query(`UPDATE migrations_checksums SET source_hash = 'another build' WHERE name = 'Things1700000000001'`);
    const rebuilt = await boot([ThingsHarmlessEdit, Notes1700000000002]);
    expect(rebuilt.logger.messages('warn')).toEqual([]);
    const [row] = await t.db.query<{ source_hash: string; origin: string }>(
      `SELECT source_hash, origin FROM migrations_checksums WHERE name = 'Things1700000000001'`,
    );
    expect(row).toEqual({ source_hash: expect.stringMatching(/^[0-9a-f]{64}$/), origin: 'applied' });
  });

  /** What `typeorm migration:revert` then `migration:run` do, with `migrations` as the build. */
  async function revertAndRunWithTypeorm(migrations: MigrationClass[]): Promise<void> {
    const typeorm = new DataSource({ ...t.db.options, migrations } as never);
    await typeorm.initialize();
    try {
      await typeorm.undoLastMigration();
      await typeorm.runMigrations();
    } finally {
      await typeorm.destroy();
    }
  }

  it("a migration reverted and run again by TypeORM's CLI, edited: what ran is the current text, so it is baselined again, not reported; a later edit is", async () => {
    await boot([Things1700000000001, Notes1700000000002]);
    await revertAndRunWithTypeorm([Things1700000000001, NotesEdited]);
    const [row] = await t.db.query<{ id: number }>(`SELECT id FROM migrations WHERE name = 'Notes1700000000002'`);
    const id = row!.id;

    const readOnly = await boot([Things1700000000001, NotesEdited], { runMigrations: false });
    expect(readOnly.logger.messages('warn')).toEqual([]);
    expect((await readOnly.app.get(AutoMigratorService).status())[0]!.changed).toEqual([]);

    const migrating = await boot([Things1700000000001, NotesEdited]);
    expect(migrating.logger.messages('warn')).toEqual([]);
    expect(migrating.logger.messages('log')).toContainEqual(
      expect.stringMatching(
        /applied again since their checksum was recorded .*: Notes1700000000002; this build's checksum is recorded as their baseline/,
      ),
    );
    const rows = await t.db.query<{ name: string; origin: string; migration_id: number | string }>(
      'SELECT name, origin, migration_id FROM migrations_checksums ORDER BY name',
    );
    expect(rows.map((row) => ({ ...row, migration_id: Number(row.migration_id) }))).toEqual([
      { name: 'Notes1700000000002', origin: 'baseline', migration_id: Number(id) },
      { name: 'Things1700000000001', origin: 'applied', migration_id: expect.any(Number) },
    ]);
    // Re-baselined once: the next boot has nothing to record, and the old text is now the changed one.
    const again = await boot([Things1700000000001, NotesEdited]);
    expect(again.logger.messages('log').filter((line) => /applied again/.test(line))).toEqual([]);
    const older = await boot([Things1700000000001, Notes1700000000002], { runMigrations: false });
    expect((await older.app.get(AutoMigratorService).status())[0]!.changed).toMatchObject([
      { name: 'Notes1700000000002', recordedAs: 'baseline' },
    ]);
  });

  it('run again by TypeORM with the same text, then edited: the edit is still reported (the row the checksum is for moves on)', async () => {
    await boot([Things1700000000001, Notes1700000000002]);
    await revertAndRunWithTypeorm([Things1700000000001, Notes1700000000002]);
    await boot([Things1700000000001, Notes1700000000002]);
    const edited = await boot([Things1700000000001, NotesEdited], { runMigrations: false });
    expect(edited.logger.messages('warn')).toEqual([expect.stringMatching(/changed since .*Notes1700000000002/)]);
  });

  /** The checksums' table as an earlier version of this library wrote it: normalised checksums (v1:), without `columns`. */
  async function asAnEarlierVersionWroteIt(columns: string[]): Promise<void> {
    for (const migration of [Things1700000000001, Notes1700000000002]) {
      const checksum = buildChecksum(new migration())!.checksum();
      await t.db.query(`UPDATE migrations_checksums SET checksum = '${checksum}' WHERE name = '${migration.name}'`);
    }
    for (const column of columns) await t.db.query(`ALTER TABLE migrations_checksums DROP COLUMN ${column}`);
  }

  it('a checksums table from a version that recorded no up() text: its checksums compared as they are (an edit reported, a rebuild not), given source_text by the next migrating boot, which records the rebuilt text', async () => {
    await boot([Things1700000000001, Notes1700000000002]);
    await asAnEarlierVersionWroteIt(['source_text']);
    const readOnly = await boot([ThingsEdited, Notes1700000000002], { runMigrations: false });
    expect(readOnly.logger.messages('warn')).toEqual([expect.stringMatching(CHANGED_WARNING)]);

    const rebuilt = await boot([ThingsHarmlessEdit, Notes1700000000002]);
    expect(rebuilt.logger.messages('warn')).toEqual([]);
    const rows = await t.db.query<{ name: string; checksum: string; source_text: string | null }>(
      'SELECT name, checksum, source_text FROM migrations_checksums ORDER BY name',
    );
    expect(rows).toEqual([
      { name: 'Notes1700000000002', checksum: expect.stringMatching(/^v1:/), source_text: null },
      {
        name: 'Things1700000000001',
        checksum: expect.stringMatching(/^text:/),
        source_text: expect.stringContaining('// the table of things'),
      },
    ]);
    // Compared from now on through the recorded text.
    const edited = await boot([ThingsEdited, Notes1700000000002], { runMigrations: false });
    expect(edited.logger.messages('warn')).toEqual([expect.stringMatching(CHANGED_WARNING)]);
  });

  it('a checksums table from a version that kept no row ids: read as it is (an edit still reported), given migration_id by the next migrating boot', async () => {
    await boot([Things1700000000001, Notes1700000000002]);
    await asAnEarlierVersionWroteIt(['migration_id', 'source_text']);
    const readOnly = await boot([ThingsEdited, Notes1700000000002], { runMigrations: false });
    expect(readOnly.logger.messages('warn')).toEqual([expect.stringMatching(CHANGED_WARNING)]);
    expect(Object.keys((await t.db.query('SELECT * FROM migrations_checksums'))[0]!)).not.toContain('migration_id');

    await boot([Things1700000000001, Notes1700000000002]);
    const rows = await t.db.query<{ name: string; migration_id: number | string | null; id: number | string }>(
      'SELECT c.name, c.migration_id, m.id FROM migrations_checksums c JOIN migrations m ON m.name = c.name ORDER BY c.name',
    );
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(Number(row.migration_id)).toBe(Number(row.id));
    // From then on TypeORM's revert and run is told apart from an edit.
    await revertAndRunWithTypeorm([Things1700000000001, NotesEdited]);
    const after = await boot([Things1700000000001, NotesEdited]);
    expect(after.logger.messages('warn')).toEqual([]);
  });

  it.runIf(t.kind === 'postgres')(
    'PostgreSQL: a table an earlier version created since it was read (without migration_id) gets it as the run creates it, in the same round trip',
    async () => {
      const app = await boot([Things1700000000001]);
      await t.db.query('ALTER TABLE migrations_checksums DROP COLUMN migration_id');
      const dataSource = app.app.get(DataSource);
      const { queries, logger } = recordQueries();
      const runner = dataSource.createQueryRunner();
      dataSource.logger = logger as never;
      try {
        await new ChecksumTable(dataSource, runner).ensure('missing');
      } finally {
        await runner.release();
      }
      expect(queries.filter((query) => /migrations_checksums/.test(query))).toHaveLength(1);
      expect(Object.keys((await t.db.query('SELECT * FROM migrations_checksums'))[0]!)).toContain('migration_id');
    },
  );

  it('not migrating (runMigrations: false) records nothing: no baseline, no table', async () => {
    const typeorm = new DataSource({ ...t.db.options, migrations: [Things1700000000001] } as never);
    await typeorm.initialize();
    await typeorm.runMigrations();
    await typeorm.destroy();
    const app = await boot([ThingsEdited], { runMigrations: false });
    expect(app.logger.messages('warn')).toEqual([]);
    expect(await t.db.tables()).not.toContain('migrations_checksums');
  });

  it('a restart with nothing pending reads the history and the checksums in one statement', async () => {
    await boot([Things1700000000001, Notes1700000000002]);
    const { queries, logger } = recordQueries();
    const app = t.track(
      await bootApp({
        dataSources: [{ db: t.db, migrations: [Things1700000000001, Notes1700000000002], options: { logging: 'all', logger } }],
        migrator: { runMigrations: true },
      }),
    );
    expect(await app.app.get(AutoMigratorService).getReadiness()).toMatchObject({ ready: true });
    const history = queries.filter((query) => /migrations/.test(query));
    expect(history, queries.join('\n')).toHaveLength(1);
    expect(history[0]).toMatch(/LEFT JOIN .*migrations_checksums/);
  });

  it("down forgets a reverted migration's checksum; applied again, it is recorded as it is then", async () => {
    const app = await boot([Things1700000000001, Notes1700000000002]);
    await app.app.get(AutoMigratorService).down({ to: 'Things1700000000001' });
    expect(await checksumRows()).toEqual([{ name: 'Things1700000000001', origin: 'applied' }]);
    await app.app.get(AutoMigratorService).down({ to: 0 });
    expect(await checksumRows()).toEqual([]);
    const again = await boot([ThingsEdited, Notes1700000000002]);
    expect(again.logger.messages('warn')).toEqual([]);
    expect((await again.app.get(AutoMigratorService).status())[0]!.changed).toEqual([]);
  });
});
