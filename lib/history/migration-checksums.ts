import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { buildChecksum, CHECKSUM_VERSION } from '../plan/migration-checksum.js';
import { migrationName } from '../plan/build-migrations.js';
import { withExpectedFailures } from '../typeorm/redacting-logger.js';
import { errorChain } from '../util/error-chain.js';
import {
  escapedTable,
  isMissingTable,
  isMysqlFamily,
  migrationsTableName,
  placeholders,
  selectIfTableExists,
  tableExists,
} from './migrations-table.js';

/**
 * How a recorded checksum came to be: `applied` when this library applied the migration,
 * `baseline` when it found the migration applied without one (by TypeORM itself, or an earlier
 * version of this library), `accepted` when an operator accepted an edit (`resolve --accept-change`).
 */
export type ChecksumOrigin = 'applied' | 'baseline' | 'accepted';

/** A checksum recorded for an applied migration. */
export interface RecordedChecksum {
  readonly checksum: string;
  readonly sourceHash: string;
  readonly origin: ChecksumOrigin;
  readonly recordedAt: Date;
}

/** An applied migration whose up() in this build differs from the one its checksum was recorded for. */
export interface ChangedMigration {
  readonly name: string;
  /** When this library applied it; absent when its checksum was recorded later (a baseline, or an accepted edit). */
  readonly appliedAt?: Date;
  /** How the recorded checksum came to be, and when. */
  readonly recordedAs: ChecksumOrigin;
  readonly recordedAt: Date;
  readonly recorded: string;
  readonly current: string;
}

/** The checksums' table: `<migrations table>_checksums`, beside the migrations table (which keeps TypeORM's shape). */
export function checksumsTableName(dataSource: DataSource): string {
  return `${migrationsTableName(dataSource)}_checksums`;
}

/** What the read of the migrations table found, with each row's recorded checksum (if any). */
export interface RecordedRows {
  /** One per migration recorded as applied, in the order applied: its `name`, any `extra` columns, and its checksum's `source_hash` (null: none). */
  readonly rows: ReadonlyArray<Record<string, unknown>>;
  /** Whether the checksums' table exists (false too where the migrations table does not). */
  readonly checksumsTable: boolean;
}

/**
 * The migrations table's rows in the order applied, each with the `source_hash` of its recorded
 * checksum, in one statement (a LEFT JOIN on the checksums' table). Read-only: a missing migrations table means no
 * rows; a missing checksums' table (nothing recorded yet) costs a second, plain read. `extra`
 * adds columns (`beside` escapes another table's path).
 */
export async function readRecordedRows(
  dataSource: DataSource,
  queryRunner: QueryRunner | undefined,
  extra: (beside: (table: string) => string) => string = () => '',
): Promise<RecordedRows> {
  const runner = queryRunner ?? dataSource.createQueryRunner();
  try {
    const beside = (table: string) => escapedTable(dataSource, runner, table);
    const e = (column: string) => dataSource.driver.escape(column);
    const inTransaction = runner.isTransactionActive;
    // Inside a transaction a failed statement would abort it: ask first.
    const bothExist =
      !inTransaction ||
      ((await tableExists(dataSource, runner, migrationsTableName(dataSource))) &&
        (await tableExists(dataSource, runner, checksumsTableName(dataSource))));
    if (bothExist) {
      // MySQL/MariaDB: the checksums' table is created with the migrations table's collation (see ensure).
      const on = `c.${e('name')} = m.${e('name')}`;
      // Only the exact text's hash: equal (every restart of the same build) needs nothing more.
      const sql =
        `SELECT m.${e('name')} AS name${extra(beside)}, c.${e('source_hash')} AS source_hash ` +
        `FROM ${beside(migrationsTableName(dataSource))} m LEFT JOIN ${beside(checksumsTableName(dataSource))} c ON ${on} ORDER BY m.${e('id')}`;
      const select = () => runner.query(sql) as Promise<Array<Record<string, unknown>>>;
      try {
        return { rows: inTransaction ? await select() : await withExpectedFailures(runner, isMissingTable, select), checksumsTable: true };
      } catch (error) {
        if (inTransaction || !isMissingTable(error)) throw error;
      }
    }
    const rows = await selectIfTableExists(
      dataSource,
      runner,
      migrationsTableName(dataSource),
      (from, besideOther) => `SELECT ${e('name')} AS name${extra(besideOther)} FROM ${from} ORDER BY ${e('id')}`,
    );
    return { rows, checksumsTable: false };
  } finally {
    if (!queryRunner) await runner.release();
  }
}

/** The checksums recorded for `names`, read in full (one statement): for the migrations whose exact text differs. */
async function readChecksums(
  dataSource: DataSource,
  queryRunner: QueryRunner | undefined,
  names: readonly string[],
): Promise<Map<string, RecordedChecksum>> {
  const e = (column: string) => dataSource.driver.escape(column);
  const runner = queryRunner ?? dataSource.createQueryRunner();
  try {
    const list = placeholders(dataSource, names.length).join(', ');
    const rows = (await runner.query(
      `SELECT ${e('name')} AS name, ${e('checksum')} AS checksum, ${e('source_hash')} AS source_hash, ${e('origin')} AS origin, ` +
        `${e('recorded_at')} AS recorded_at FROM ${escapedTable(dataSource, runner, checksumsTableName(dataSource))} WHERE ${e('name')} IN (${list})`,
      [...names],
    )) as Array<Record<string, unknown>>;
    const recorded = new Map<string, RecordedChecksum>();
    for (const row of rows) {
      const origin = row['origin'];
      recorded.set(String(row['name']), {
        checksum: String(row['checksum']),
        sourceHash: String(row['source_hash']),
        origin: origin === 'baseline' || origin === 'accepted' ? origin : 'applied',
        recordedAt: new Date(String(row['recorded_at'])),
      });
    }
    return recorded;
  } finally {
    if (!queryRunner) await runner.release();
  }
}

/** Applied migrations whose up() changed, and those with no checksum yet (to record as a baseline). */
export interface ChecksumComparison {
  readonly changed: readonly ChangedMigration[];
  readonly unrecorded: readonly string[];
  /** Unchanged, but compiled to another text than the one recorded (a rebuild): its new text's hash is worth recording. */
  readonly stale: readonly string[];
}

/**
 * Compares the checksums recorded for the `applied` migrations (known to this build; `sourceHashes`
 * from {@link readRecordedRows}) with this build's: an equal exact text is unchanged at once (no
 * more is read); for the others the recorded checksums are read (one statement) and compared with
 * the normalised ones (see migration-checksum.ts). A migration with no checksum, or one of another
 * version, is unrecorded, not changed.
 */
export async function compareChecksums(
  dataSource: DataSource,
  queryRunner: QueryRunner | undefined,
  applied: readonly string[],
  sourceHashes: ReadonlyMap<string, string | undefined>,
): Promise<ChecksumComparison> {
  const instances = instancesByName(dataSource.migrations);
  const unrecorded: string[] = [];
  const differing: string[] = [];
  for (const name of applied) {
    const build = buildChecksum(instances.get(name)!);
    const recorded = sourceHashes.get(name);
    if (!build || recorded === build.sourceHash) continue;
    (recorded === undefined ? unrecorded : differing).push(name);
  }
  if (differing.length === 0) return { changed: [], unrecorded, stale: [] };
  const recorded = await readChecksums(dataSource, queryRunner, differing);
  const changed: ChangedMigration[] = [];
  const stale: string[] = [];
  for (const name of differing) {
    const entry = recorded.get(name);
    const build = buildChecksum(instances.get(name)!)!;
    if (!entry || !entry.checksum.startsWith(`${CHECKSUM_VERSION}:`)) unrecorded.push(name);
    else if (entry.checksum === build.checksum()) stale.push(name);
    else {
      changed.push({
        name,
        ...(entry.origin === 'applied' ? { appliedAt: entry.recordedAt } : {}),
        recordedAs: entry.origin,
        recordedAt: entry.recordedAt,
        recorded: entry.checksum,
        current: build.checksum(),
      });
    }
  }
  return { changed, unrecorded, stale };
}

const instanceMaps = new WeakMap<readonly MigrationInterface[], ReadonlyMap<string, MigrationInterface>>();

function instancesByName(migrations: readonly MigrationInterface[]): ReadonlyMap<string, MigrationInterface> {
  let map = instanceMaps.get(migrations);
  if (!map) {
    map = new Map(migrations.map((migration) => [String(migrationName(migration)), migration]));
    instanceMaps.set(migrations, map);
  }
  return map;
}

/** Rows at most per INSERT (five parameters each). */
const ROWS_PER_STATEMENT = 200;

/** Writes and removes the checksums of one DataSource (or tenant), on one query runner, in its transaction if one is open. */
export class ChecksumTable {
  constructor(
    private readonly dataSource: DataSource,
    private readonly queryRunner: QueryRunner,
  ) {}

  /**
   * Creates the table when missing. Outside any transaction on MySQL/MariaDB (DDL would commit it),
   * where it takes the migrations table's collation: the read joins the two on the name, and two
   * collations would make MySQL refuse the comparison (or, cast, compare without the index).
   */
  async ensure(): Promise<void> {
    const e = (column: string) => this.dataSource.driver.escape(column);
    try {
      await this.queryRunner.query(
        `CREATE TABLE IF NOT EXISTS ${this.table()} (${e('name')} VARCHAR(255) NOT NULL PRIMARY KEY, ${e('checksum')} VARCHAR(80) NOT NULL, ` +
          `${e('source_hash')} VARCHAR(80) NOT NULL, ${e('origin')} VARCHAR(8) NOT NULL, ${e('recorded_at')} VARCHAR(32) NOT NULL)` +
          (await this.mysqlCollation()),
      );
    } catch (error) {
      // PostgreSQL: two sessions creating it at once; the other one did.
      if (![...errorChain(error)].some(({ code }) => code === '23505' || code === '42P07')) throw error;
    }
  }

  /**
   * Records this build's checksum of each named migration of the build as `origin`, replacing any
   * recorded before. Migrations whose up() has no source text are skipped.
   */
  async record(names: readonly string[], origin: ChecksumOrigin): Promise<void> {
    const instances = instancesByName(this.dataSource.migrations);
    const now = new Date().toISOString();
    const values: unknown[][] = [];
    // Once each: a migrations table written without the lock may hold a name twice.
    for (const name of new Set(names)) {
      const instance = instances.get(name);
      const build = instance && buildChecksum(instance);
      if (build) values.push([name, build.checksum(), build.sourceHash, origin, now]);
    }
    for (let start = 0; start < values.length; start += ROWS_PER_STATEMENT) {
      const chunk = values.slice(start, start + ROWS_PER_STATEMENT);
      await this.queryRunner.query(this.upsertSql(chunk.length, 0, origin === 'baseline'), chunk.flat());
    }
  }

  /**
   * After a rebuild that changed the compiled text of migrations but not their checksums: records
   * the new exact text's hash, so that later restarts compare them without tokenising.
   */
  async refreshSourceHashes(names: readonly string[]): Promise<void> {
    const instances = instancesByName(this.dataSource.migrations);
    const e = (column: string) => this.dataSource.driver.escape(column);
    const [p1, p2] = placeholders(this.dataSource, 2);
    for (const name of names) {
      const build = buildChecksum(instances.get(name)!);
      if (!build) continue;
      await this.queryRunner.query(`UPDATE ${this.table()} SET ${e('source_hash')} = ${p1} WHERE ${e('name')} = ${p2}`, [
        build.sourceHash,
        name,
      ]);
    }
  }

  /**
   * PostgreSQL: records `migration` in the migrations table, with its columns as TypeORM's executor
   * writes them (timestamp, name), and its checksum as `applied`, in one statement: a migration per
   * tenant over thousands of tenants costs no round trip more than TypeORM's record alone.
   */
  async recordWithMigration(migration: { readonly name: string; readonly timestamp: number }): Promise<void> {
    const build = buildChecksum(instancesByName(this.dataSource.migrations).get(migration.name)!);
    const e = (column: string) => this.dataSource.driver.escape(column);
    const record = `INSERT INTO ${escapedTable(this.dataSource, this.queryRunner, migrationsTableName(this.dataSource))} (${e('timestamp')}, ${e('name')}) VALUES (${placeholders(this.dataSource, 2).join(', ')})`;
    if (!build) {
      await this.queryRunner.query(record, [migration.timestamp, migration.name]);
      return;
    }
    await this.queryRunner.query(`WITH checksum AS (${this.upsertSql(1, 2)}) ${record}`, [
      migration.timestamp,
      migration.name,
      ...[migration.name, build.checksum(), build.sourceHash, 'applied', new Date().toISOString()],
    ]);
  }

  /** Forgets the checksum of `name` (reverted, or resolved as not applied). */
  async remove(name: string): Promise<void> {
    const [parameter] = placeholders(this.dataSource, 1);
    await this.queryRunner.query(`DELETE FROM ${this.table()} WHERE ${this.dataSource.driver.escape('name')} = ${parameter}`, [name]);
  }

  /** MySQL/MariaDB: ` COLLATE <the migrations table's>`, when it exists; elsewhere nothing. */
  private async mysqlCollation(): Promise<string> {
    if (!isMysqlFamily(this.dataSource)) return '';
    const rows = (await this.queryRunner.query(
      'SELECT TABLE_COLLATION AS collation FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?',
      [this.dataSource.driver.database ?? null, migrationsTableName(this.dataSource)],
    )) as Array<{ collation: string | null }>;
    const collation = rows[0]?.collation;
    return collation && /^\w+$/.test(collation) ? ` COLLATE ${collation}` : '';
  }

  /**
   * An INSERT of `rows` rows, replacing any recorded before (`keepCurrent`: only one of another
   * checksum version, so that a baseline never replaces what a run applying the migration wrote);
   * PostgreSQL's parameters numbered after the first `offset`.
   */
  private upsertSql(rows: number, offset = 0, keepCurrent = false): string {
    const e = (column: string) => this.dataSource.driver.escape(column);
    const columns = ['name', 'checksum', 'source_hash', 'origin', 'recorded_at'];
    const postgres = this.dataSource.options.type === 'postgres';
    const tuples = Array.from(
      { length: rows },
      (_, row) => `(${placeholders(this.dataSource, columns.length, offset + row * columns.length).join(', ')})`,
    );
    const current = `LIKE '${CHECKSUM_VERSION}:%'`;
    // MySQL assigns left to right: the checksum, which the condition reads, goes last.
    const updated = ['source_hash', 'origin', 'recorded_at', 'checksum'];
    const onConflict = isMysqlFamily(this.dataSource)
      ? `ON DUPLICATE KEY UPDATE ${updated
          .map(
            (column) =>
              `${e(column)} = ${keepCurrent ? `IF(${e('checksum')} ${current}, ${e(column)}, VALUES(${e(column)}))` : `VALUES(${e(column)})`}`,
          )
          .join(', ')}`
      : `ON CONFLICT (${e('name')}) DO UPDATE SET ${updated.map((column) => `${e(column)} = excluded.${e(column)}`).join(', ')}` +
        (keepCurrent ? ` WHERE ${postgres ? 't.' : ''}${e('checksum')} NOT ${current}` : '');
    return `INSERT INTO ${this.table()}${postgres ? ' AS t' : ''} (${columns.map(e).join(', ')}) VALUES ${tuples.join(', ')} ${onConflict}`;
  }

  private table(): string {
    return escapedTable(this.dataSource, this.queryRunner, checksumsTableName(this.dataSource));
  }
}
