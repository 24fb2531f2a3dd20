import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A data migration: it must run exactly once, or the welcome note would appear twice. */
export class SeedWelcomeNote1732000000002 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`INSERT INTO "note" ("title", "body") VALUES ('Welcome', 'This note was written by a data migration.')`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "note" WHERE "title" = 'Welcome'`);
  }
}
