import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Migration, MigrationExecutor, type DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { ConnectionMetadataBuilder } from 'typeorm/connection/ConnectionMetadataBuilder.js';
import { ObjectUtils } from 'typeorm/util/ObjectUtils.js';
import { buildMigrations, timestampOf } from '../plan/build-migrations.js';
import type { PendingMigration } from '../strategies/migration-strategy.js';
import { errorChain } from '../util/error-chain.js';

/** A migration recorded in the migrations table. */
export interface AppliedMigration {
  readonly name: string;
  /** The 13-digit timestamp its name ends in (0 if it ends in none). */
  readonly timestamp: number;
  /** Its position in the migrations table, in the order applied: 1 for the first. */
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
  /**
   * SQLite only: the database file (resolved path) does not exist. Nothing connected and nothing
   * was created; nothing is applied, so every migration of this build is pending.
   */
  readonly missingDatabaseFile?: string;
}

/**
 * Reads the migrations table once (read-only: a missing table means nothing applied) and compares
 * it with the DataSource's migrations.
 */
export async function readMigrationStatus(dataSource: DataSource, queryRunner?: QueryRunner): Promise<MigrationStatusReport> {
  const recorded = await readRecordedNames(dataSource, queryRunner);
  return compareWithBuild(buildMigrations(dataSource.migrations, 'DataSource'), recorded);
}

/** The build's migrations against the names recorded in the migrations table (in the order applied). */
export function compareWithBuild(known: readonly PendingMigration[], recorded: readonly string[]): MigrationStatusReport {
  const recordedNames = new Set(recorded);
  const knownNames = new Set(known.map((migration) => migration.name));
  const applied: AppliedMigration[] = [];
  const unknown: AppliedMigration[] = [];
  let newestApplied = 0;
  for (const [index, name] of recorded.entries()) {
    // A known name was checked to end in a timestamp; an unknown one may not.
    const isKnown = knownNames.has(name);
    const entry = { name, timestamp: isKnown ? Number(name.slice(-13)) : timestampOf(name), order: index + 1 };
    (isKnown ? applied : unknown).push(entry);
    newestApplied = Math.max(newestApplied, entry.timestamp);
  }
  const pending = known.filter((migration) => !recordedNames.has(migration.name));
  return {
    applied,
    pending,
    unknown,
    outOfOrder: pending.filter((migration) => migration.timestamp < newestApplied),
  };
}

/**
 * The names in the migrations table, in the order applied, in one round trip: a plain SELECT of
 * the one column the comparison needs (no QueryBuilder, whose first use costs milliseconds of
 * warm-up at every boot), where "no such table" means none. Inside a transaction, where a failed
 * statement would abort it, it asks whether the table exists first.
 */
export async function readRecordedNames(dataSource: DataSource, queryRunner?: QueryRunner): Promise<string[]> {
  const runner = queryRunner ?? dataSource.createQueryRunner();
  try {
    const driver = dataSource.driver;
    const table = driver.buildTableName(
      dataSource.options.migrationsTableName ?? 'migrations',
      (driver.options as { schema?: string }).schema,
      driver.database,
    );
    if (runner.isTransactionActive && !(await runner.hasTable(table))) return [];
    const from = (runner as unknown as PathEscaping).escapePath(table);
    try {
      const rows = (await runner.query(`SELECT ${driver.escape('name')} FROM ${from} ORDER BY ${driver.escape('id')}`)) as Array<
        Record<string, unknown>
      >;
      return rows.map((row) => String(row['name']));
    } catch (error) {
      if (!runner.isTransactionActive && isMissingTable(error)) return [];
      throw error;
    }
  } finally {
    if (!queryRunner) await runner.release();
  }
}

/** This build's migrations as TypeORM sees them (sorted by timestamp, with their instances). */
export function knownMigrations(dataSource: DataSource): Migration[] {
  return new BuildMigrationList(dataSource).list();
}

class BuildMigrationList extends MigrationExecutor {
  list(): Migration[] {
    return this.getMigrations();
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

/**
 * The resolved path of a SQLite DataSource's database file when that file does not exist (and the
 * DataSource is not connected): connecting would create it, and the directories above it.
 * Undefined for other databases, in-memory SQLite, an existing file, or a connected DataSource.
 */
export function missingSqliteFile(dataSource: DataSource): string | undefined {
  const { type, database } = dataSource.options as { type: string; database?: unknown };
  if (dataSource.isInitialized || (type !== 'better-sqlite3' && type !== 'sqlite')) return undefined;
  if (typeof database !== 'string' || database === '' || database === ':memory:' || database.startsWith('file:')) return undefined;
  const path = resolve(database);
  return existsSync(path) ? undefined : path;
}

/**
 * The migrations of a DataSource that is not connected, loaded as TypeORM's initialize() loads
 * them (classes, or globs imported), without connecting.
 */
export async function loadMigrationsUnconnected(dataSource: DataSource): Promise<MigrationInterface[]> {
  const configured = ObjectUtils.mixedListToArray(dataSource.options.migrations ?? []);
  return new ConnectionMetadataBuilder(dataSource).buildMigrations(configured);
}
