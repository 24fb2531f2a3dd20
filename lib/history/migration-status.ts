import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DataSource, QueryRunner } from 'typeorm';
import { buildMigrations, timestampOf } from '../plan/build-migrations.js';
import { quoteLiteral } from '../util/sql-identifier.js';
import type { PendingMigration } from '../contracts/migration-records.js';
import { migrationsTableName, selectIfTableExists } from './migrations-table.js';
import {
  compareChecksums,
  readRecordedRows,
  recordedRowsByName,
  type ChangedMigration,
  type ChecksumsTableState,
} from './migration-checksums.js';
import { readStartedMigrations, splitStarted, startedTableName } from './started-migrations.js';
import type { StartedMigration } from '../contracts/migration-records.js';

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
  /**
   * Pending migrations recorded as started and never finished (MySQL/MariaDB, or without a
   * transaction): possibly partially applied (or reverted). A run refuses until each is resolved.
   */
  readonly dirty: readonly StartedMigration[];
  /**
   * Applied migrations (known to this build) whose up() differs from the one their checksum was
   * recorded for: edited after they ran (see migration-checksums.ts).
   */
  readonly changed: readonly ChangedMigration[];
}

/**
 * Reads the migrations table once (read-only: a missing table means nothing applied) and compares
 * it with the DataSource's migrations.
 */
export async function readMigrationStatus(dataSource: DataSource, queryRunner?: QueryRunner): Promise<MigrationStatusReport> {
  return (await readMigrationHistory(dataSource, queryRunner)).status;
}

/** What one read of the migrations table (and of the started markers, when anything is pending) found. */
export interface MigrationHistoryRead {
  readonly status: MigrationStatusReport;
  /** The names recorded, in the order applied. */
  readonly recorded: readonly string[];
  /** How many started markers there are, finished or not (none read when nothing is pending). */
  readonly markers: number;
  /** Applied migrations of this build with no checksum recorded yet: a migrating run records this build's as their baseline. */
  readonly unrecorded: readonly string[];
  /** Applied migrations compiled to another text than the one recorded, their checksum unchanged: a migrating run records the new text's hash. */
  readonly stale: readonly string[];
  /** Applied again since their checksum was recorded (see ChecksumComparison): a migrating run records this build's as their baseline. */
  readonly reapplied: readonly string[];
  /** The checksums' table as found: a run that writes makes it current first. */
  readonly checksumsTable: ChecksumsTableState;
  /** The migrations table does not exist (known when the read asked the catalog first). */
  readonly noMigrationsTable?: true;
}

/** {@link readMigrationStatus}, with what was read: a run holding the lock since this read need not read it again. */
export async function readMigrationHistory(
  dataSource: DataSource,
  queryRunner?: QueryRunner,
  /** The tables are likely missing (a new tenant): ask the catalog before reading (see readRecordedRows). */
  askFirst = false,
): Promise<MigrationHistoryRead> {
  // PostgreSQL: the same statement tells whether the started markers' table exists (on every row).
  const markersTable = dataSource.options.type === 'postgres' ? startedTableName(dataSource) : undefined;
  const { rows, checksumsTable, noMigrationsTable, besideMissing } = await readRecordedRows(dataSource, queryRunner, {
    extra: (beside) => (markersTable ? `, to_regclass(${quoteLiteral(beside(markersTable))}) IS NOT NULL AS markers` : ''),
    askFirst,
    beside: markersTable,
  });
  const recorded = rows.map((row) => String(row['name']));
  const compared = compareWithBuild(buildMigrations(dataSource.migrations, 'DataSource'), recorded);
  const { changed, unrecorded, stale, reapplied } = await compareChecksums(
    dataSource,
    queryRunner,
    compared.applied.map((migration) => migration.name),
    recordedRowsByName(rows),
    checksumsTable,
  );
  const report = { ...compared, changed };
  // Only a migration not recorded as applied can be unfinished: nothing pending, nothing to read.
  if (report.pending.length === 0) return { status: report, recorded, markers: 0, unrecorded, stale, reapplied, checksumsTable };
  const noMarkersTable = (rows.length > 0 && rows[0]!['markers'] === false) || besideMissing === true;
  const started = noMarkersTable ? [] : await readStartedMigrations(dataSource, queryRunner);
  return {
    status: { ...report, dirty: splitStarted(started, recorded).unfinished },
    recorded,
    markers: started.length,
    unrecorded,
    stale,
    reapplied,
    checksumsTable,
    ...(noMigrationsTable ? { noMigrationsTable } : {}),
  };
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
    dirty: [],
    changed: [],
  };
}

/**
 * The names in the migrations table, in the order applied, in one round trip: a plain SELECT of
 * the one column the comparison needs (no QueryBuilder, whose first use costs milliseconds of
 * warm-up at every boot), where "no such table" means none.
 */
export async function readRecordedNames(dataSource: DataSource, queryRunner?: QueryRunner): Promise<string[]> {
  const rows = await selectIfTableExists(dataSource, queryRunner, migrationsTableName(dataSource), (from) =>
    recordedNamesSql(dataSource, from),
  );
  return rows.map((row) => String(row['name']));
}

/** The names in the migrations table `from`, in the order applied. */
function recordedNamesSql(dataSource: DataSource, from: string): string {
  const driver = dataSource.driver;
  return `SELECT ${driver.escape('name')} FROM ${from} ORDER BY ${driver.escape('id')}`;
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
