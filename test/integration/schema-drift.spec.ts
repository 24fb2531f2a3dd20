import { expect, it } from 'vitest';
import { DataSource, type EntitySchema } from 'typeorm';
import { AutoMigratorService } from '../../lib/index.js';
import { describeEachDatabase } from '../support/database-suite.js';
import { defineMigration, tableMigration, type MigrationClass } from '../support/migrations.js';
import { recordQueries } from '../support/recorded-queries.mjs';
import { bootApp } from '../support/test-app.js';
import { userEntity } from '../support/user-entity.js';

describeEachDatabase('status with the schema: the entities against the live schema', (t) => {
  /**
   * The migration `typeorm migration:generate` writes for `entity` on an empty database: its own
   * schema builder's statements, so that the history and the entities agree as in a real project.
   */
  async function generatedMigration(name: string, entity: EntitySchema): Promise<MigrationClass> {
    const typeorm = new DataSource({ ...t.db.options, entities: [entity] } as never);
    await typeorm.initialize();
    try {
      const statements = (await typeorm.driver.createSchemaBuilder().log()).upQueries.map((query) => query.query);
      return defineMigration(name, async (queryRunner) => {
        for (const statement of statements) await queryRunner.query(statement);
      });
    } finally {
      await typeorm.destroy();
    }
  }

  async function status(entity: EntitySchema, migrations: MigrationClass[], logger?: never) {
    const app = t.track(
      await bootApp({
        dataSources: [{ db: t.db, migrations, options: { entities: [entity], ...(logger ? { logging: 'all', logger } : {}) } }],
        migrator: { runMigrations: false },
      }),
    );
    const [result] = await app.app.get(AutoMigratorService).status({ schema: true });
    return result!;
  }

  it('after up: no difference; an entity column no migration created, and a column added by hand, are named; nothing is written', async () => {
    const createUsers = await generatedMigration('CreateUsers1700000000001', userEntity(['name']));
    t.track(await bootApp({ dataSources: [{ db: t.db, migrations: [createUsers] }], migrator: { runMigrations: true } }));

    expect((await status(userEntity(['name']), [createUsers])).entityDrift).toEqual({ entities: 1, statements: [] });

    // The build maps nickname; no migration was generated for it.
    const forgotten = (await status(userEntity(['name', 'nickname']), [createUsers])).entityDrift!;
    // SQLite cannot add a column in place: TypeORM would rebuild the table (four statements).
    if (t.kind === 'sqlite') expect(forgotten.statements.join('\n')).toMatch(/CREATE TABLE "temporary_users" .*"nickname"/);
    else expect(forgotten.statements).toEqual([expect.stringMatching(/ALTER TABLE .*users.* ADD .*nickname/)]);

    // A column a DBA added from a console: the entities would drop it.
    await t.db.query('ALTER TABLE users ADD extra INT NULL');
    const { queries, logger } = recordQueries();
    const byHand = (await status(userEntity(['name']), [createUsers], logger as never)).entityDrift!;
    if (t.kind === 'sqlite')
      expect(byHand.statements.join('\n')).toMatch(/INSERT INTO "temporary_users"\("id", "name"\) SELECT "id", "name" FROM "users"/);
    else expect(byHand.statements).toEqual([expect.stringMatching(/DROP COLUMN .*extra/)]);
    // Read-only: the schema builder's statements were recorded, not sent.
    expect(queries.filter((query) => /^\s*(ALTER|CREATE|DROP|INSERT|UPDATE|DELETE)\b/i.test(query))).toEqual([]);
    expect(await t.db.tables()).not.toContain('typeorm_metadata');
  });

  it('a DataSource without entities: nothing to compare; without schema, nothing is read', async () => {
    const app = t.track(
      await bootApp({
        dataSources: [{ db: t.db, migrations: [tableMigration('One1700000000001', 'one')] }],
        migrator: { runMigrations: false },
      }),
    );
    const service = app.app.get(AutoMigratorService);
    expect((await service.status({ schema: true }))[0]!.entityDrift).toEqual({ entities: 0, statements: [] });
    expect((await service.status())[0]).not.toHaveProperty('entityDrift');
  });
});
