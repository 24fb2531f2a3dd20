import type { QueryRunner } from 'typeorm';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import type { DataSourceMigrationRunner } from '../runner/data-source-migration.runner.js';
import { knownMigrations, missingSqliteFile, readMigrationStatus } from './migration-status.js';

/** One statement a migration sent to the database. */
export interface PlannedStatement {
  readonly sql: string;
  readonly parameters?: readonly unknown[];
}

/** What one pending migration would execute. */
export interface PlannedMigration {
  readonly name: string;
  readonly statements: readonly PlannedStatement[];
  /** Why it could not be previewed (its error, or it opts out of transactions); later ones were not run. */
  readonly error?: string;
}

/** The dry run of one DataSource. */
export interface DryRunResult {
  readonly dataSource: string;
  readonly migrations: readonly PlannedMigration[];
  /** True when every pending migration ran to its end inside the rolled-back transaction. */
  readonly complete: boolean;
}

/**
 * Runs the pending migrations inside one transaction that is always rolled back, recording the SQL
 * each executes. Only where DDL is transactional (PostgreSQL, SQLite): on MySQL/MariaDB DDL commits
 * implicitly, so it refuses. The migrations table is not written.
 */
export async function dryRunMigrations(runner: DataSourceMigrationRunner): Promise<DryRunResult> {
  const { dataSource } = runner.plan;
  const type = dataSource.options.type;
  if (type !== 'postgres' && type !== 'better-sqlite3') {
    throw new AutoMigratorConfigError(
      `${runner.plan.label} (${type}): plan needs transactional DDL to roll the run back; ` +
        `${type === 'mysql' || type === 'mariadb' ? 'MySQL/MariaDB commit DDL statements implicitly, so a dry run would change the schema' : 'this database type is not supported'}. ` +
        `Use "status" to list what is pending.`,
    );
  }
  const missingFile = missingSqliteFile(dataSource);
  if (missingFile !== undefined) {
    throw new AutoMigratorConfigError(
      `${runner.plan.label}: the SQLite database file ${missingFile} does not exist, and plan creates nothing. ` +
        `Use "status" to list what is pending (everything); "up" creates the file.`,
    );
  }
  return runner.withSession(async (queryRunner) => {
    const { pending } = await readMigrationStatus(dataSource, queryRunner);
    const instances = new Map(knownMigrations(dataSource).map((migration) => [migration.name, migration]));
    const planned: PlannedMigration[] = [];
    let complete = true;
    const record = recordQueries(queryRunner);
    await queryRunner.startTransaction();
    try {
      for (const { name } of pending) {
        const instance = instances.get(name)?.instance;
        const statements: PlannedStatement[] = [];
        record.into(statements);
        if (!instance || instance.transaction === false) {
          planned.push({ name, statements, error: 'opts out of transactions (transaction = false), so it cannot be previewed and rolled back' });
          complete = false;
          break;
        }
        try {
          await instance.up(queryRunner);
          planned.push({ name, statements });
        } catch (error) {
          planned.push({ name, statements, error: error instanceof Error ? error.message : String(error) });
          complete = false;
          break;
        }
      }
    } finally {
      record.stop();
      await queryRunner.rollbackTransaction();
    }
    runner.logger.log(`${runner.plan.label}: dry run of ${planned.length} migration(s) rolled back`);
    return { dataSource: runner.name, migrations: planned, complete };
  });
}

/** Records every statement sent through this query runner until stopped. */
function recordQueries(queryRunner: QueryRunner): { into(list: PlannedStatement[]): void; stop(): void } {
  const original = queryRunner.query;
  const hadOwn = Object.hasOwn(queryRunner, 'query');
  let target: PlannedStatement[] | undefined;
  const recording = function (this: QueryRunner, sql: string, parameters?: unknown[], ...rest: unknown[]) {
    target?.push(parameters && parameters.length > 0 ? { sql, parameters } : { sql });
    return (original as (...args: unknown[]) => Promise<unknown>).call(this, sql, parameters, ...rest);
  };
  queryRunner.query = recording as QueryRunner['query'];
  return {
    into: (list) => {
      target = list;
    },
    stop: () => {
      if (hadOwn) queryRunner.query = original;
      else delete (queryRunner as Partial<QueryRunner>).query;
    },
  };
}
