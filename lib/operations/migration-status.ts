import { Migration, MigrationExecutor, type DataSource, type QueryRunner } from 'typeorm';
import type { PendingMigration } from '../strategies/migration-strategy.js';
import { errorChain } from '../util/error-chain.js';

/** A migration recorded in the migrations table. */
export interface AppliedMigration {
  readonly name: string;
  readonly timestamp: number;
  /** Its row id in the migrations table: the order it was applied in. */
  readonly order: number;
}

/** What a DataSource's migrations table says, compared with the migrations of this build. */
export interface MigrationStatusReport {
  /** Recorded as applied and known to this build, in the order applied. */
  readonly applied: readonly AppliedMigration[];
  /** Known to this build, not recorded, oldest first: what `up` would run. */
  readonly pending: readonly PendingMigration[];
  /** Recorded as applied but absent from this build (e.g. after a code rollback). */
  readonly unknown: readonly AppliedMigration[];
  /** Pending migrations older than the newest applied one (merged late, or from another branch). */
  readonly outOfOrder: readonly PendingMigration[];
}

/**
 * Reads the migrations table once (read-only: a missing table means nothing applied) and compares
 * it with the DataSource's migrations.
 */
export async function readMigrationStatus(dataSource: DataSource, queryRunner?: QueryRunner): Promise<MigrationStatusReport> {
  const executor = new StatusExecutor(dataSource, queryRunner);
  const executed = await executor.readExecuted();
  const known = executor.knownMigrations();
  const executedNames = new Set(executed.map((migration) => migration.name));
  const knownNames = new Set(known.map((migration) => migration.name));
  const toApplied = (migration: Migration): AppliedMigration => ({
    name: migration.name,
    timestamp: migration.timestamp,
    order: migration.id ?? 0,
  });
  const byOrder = (a: AppliedMigration, b: AppliedMigration) => a.order - b.order;
  const applied = executed.filter((migration) => knownNames.has(migration.name)).map(toApplied).sort(byOrder);
  const unknown = executed.filter((migration) => !knownNames.has(migration.name)).map(toApplied).sort(byOrder);
  const pending = known
    .filter((migration) => !executedNames.has(migration.name))
    .map(({ name, timestamp }) => ({ name, timestamp }));
  const newestApplied = Math.max(0, ...executed.map((migration) => migration.timestamp));
  return {
    applied,
    pending,
    unknown,
    outOfOrder: pending.filter((migration) => migration.timestamp < newestApplied),
  };
}

/** This build's migrations as TypeORM sees them (sorted by timestamp, with their instances). */
export function knownMigrations(dataSource: DataSource): Migration[] {
  return new StatusExecutor(dataSource).knownMigrations();
}

class StatusExecutor extends MigrationExecutor {
  knownMigrations(): Migration[] {
    return this.getMigrations();
  }

  /**
   * The recorded migrations in one round trip: the SELECT itself, with "no such table" meaning none
   * (TypeORM's getExecutedMigrations asks whether the table exists first). Not inside a transaction,
   * where a failed statement would abort it.
   */
  /**
   * The same rows as TypeORM's loadExecutedMigrations, with one plain query instead of a
   * QueryBuilder (whose first use costs milliseconds of warm-up at every boot).
   */
  private async selectExecuted(queryRunner: QueryRunner): Promise<Migration[]> {
    const driver = this.dataSource.driver;
    const table = driver.buildTableName(
      this.dataSource.options.migrationsTableName ?? 'migrations',
      (driver.options as { schema?: string }).schema,
      driver.database,
    );
    const from = (queryRunner as unknown as PathEscaping).escapePath(table);
    const [id, timestamp, name] = ['id', 'timestamp', 'name'].map((column) => driver.escape(column));
    const rows = (await queryRunner.query(`SELECT ${id}, ${timestamp}, ${name} FROM ${from} ORDER BY ${id} DESC`)) as Array<
      Record<string, unknown>
    >;
    return rows.map((row) => new Migration(Number(row['id']), Number(row['timestamp']), String(row['name'])));
  }

  readExecuted(): Promise<Migration[]> {
    return this.withQueryRunner(async (queryRunner) => {
      if (queryRunner.isTransactionActive) return this.getExecutedMigrations();
      try {
        return await this.selectExecuted(queryRunner);
      } catch (error) {
        if (isMissingTable(error)) return [];
        throw error;
      }
    });
  }
}

/** The table path as TypeORM builds it for the migrations table, escaped by the query runner. */
interface PathEscaping {
  escapePath(target: string): string;
}

/** PostgreSQL undefined_table, MySQL/MariaDB ER_NO_SUCH_TABLE, SQLite "no such table". */
function isMissingTable(error: unknown): boolean {
  for (const { code, errno } of errorChain(error)) {
    if (code === '42P01' || code === 'ER_NO_SUCH_TABLE' || errno === 1146) return true;
  }
  return /no such table/i.test(String((error as { message?: unknown } | null)?.message ?? ''));
}
