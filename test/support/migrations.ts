import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { DbKind } from './databases.js';

export type MigrationClass = new () => MigrationInterface;

/** A migration class named `name` (TypeORM records it by that name) whose up() runs `up`. */
export function defineMigration(
  name: string,
  up: (queryRunner: QueryRunner) => Promise<unknown>,
  options: { transaction?: boolean; down?: (queryRunner: QueryRunner) => Promise<unknown> } = {},
): MigrationClass {
  const holder = {
    [name]: class implements MigrationInterface {
      transaction = options.transaction;
      async up(queryRunner: QueryRunner): Promise<void> {
        await up(queryRunner);
      }
      async down(queryRunner: QueryRunner): Promise<void> {
        await options.down?.(queryRunner);
      }
    },
  };
  const migration = holder[name];
  if (!migration) throw new Error(`no class ${name}`);
  if (options.transaction === undefined) delete (migration.prototype as { transaction?: boolean }).transaction;
  return migration;
}

/** Runs statements one by one (MariaDB runs one statement per query). */
export function sql(...statements: string[]): (queryRunner: QueryRunner) => Promise<void> {
  return async (queryRunner) => {
    for (const statement of statements) await queryRunner.query(statement);
  };
}

export const CreateUsers = defineMigration(
  'CreateUsers1700000000001',
  sql('CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL)'),
);
/** A data migration. */
export const SeedAlice = defineMigration('SeedAlice1700000000002', sql(`INSERT INTO users (id, name) VALUES (1, 'alice')`));
export const CreatePosts = defineMigration(
  'CreatePosts1700000000003',
  sql('CREATE TABLE posts (id INT PRIMARY KEY, user_id INT NOT NULL)'),
);
/** Creates a table, then fails on its second statement. */
export const BrokenHalfway = defineMigration(
  'BrokenHalfway1700000000004',
  sql('CREATE TABLE audit (id INT PRIMARY KEY)', 'INSERT INTO no_such_table (id) VALUES (1)'),
);

/** A statement that makes the database itself wait `seconds`. */
export function sleepSql(kind: DbKind, seconds: number): string | undefined {
  if (kind === 'postgres') return `SELECT pg_sleep(${seconds})`;
  if (kind === 'mariadb') return `SELECT SLEEP(${seconds})`;
  return undefined;
}

/** A migration that creates a table and whose down() drops it. */
export function tableMigration(name: string, table: string): MigrationClass {
  return defineMigration(name, sql(`CREATE TABLE ${table} (id INT PRIMARY KEY)`), { down: sql(`DROP TABLE ${table}`) });
}
