import { hostname } from 'node:os';
import type { DataSource, QueryRunner } from 'typeorm';
import { describeInvalidIndexes, readInvalidIndexes, type InvalidIndex } from './invalid-indexes.js';
import { MigrationDirtyError } from '../errors/migration-dirty.error.js';
import type { LockCondition } from '../contracts/lock-contract.js';
import { escapedTable, isMysqlFamily, migrationsTableName, placeholders, selectIfTableExists } from './migrations-table.js';
import type { StartedMigration } from '../contracts/migration-records.js';

/** MySQL and MariaDB commit DDL implicitly: a migration's DDL cannot be rolled back. */
export function commitsDdlImplicitly(dataSource: DataSource): boolean {
  return isMysqlFamily(dataSource);
}

/** The table of started markers: `<migrations table>_started`, beside the migrations table. */
export function startedTableName(dataSource: DataSource): string {
  return `${migrationsTableName(dataSource)}_started`;
}

/** How a marker names this process. */
export function thisProcess(): string {
  return `host ${hostname()} pid ${process.pid}`;
}

/**
 * The started markers of one DataSource (or tenant), on one query runner: written before a
 * migration's up() or down() where the database cannot make the migration and its record atomic.
 * A marker is unfinished while its migration is not recorded as applied: an `up` run's row moves
 * from migration to migration and is removed when the run ends; a `down`'s row is removed when its
 * down() finished. Read-only callers never create the table.
 */
export class StartedMarkers {
  constructor(
    private readonly dataSource: DataSource,
    private readonly queryRunner: QueryRunner,
  ) {}

  /** Every marker, oldest first; none when the table does not exist. */
  async read(): Promise<StartedMigration[]> {
    return readStartedMigrations(this.dataSource, this.queryRunner);
  }

  /** Creates the table when missing. Outside any transaction: on MySQL/MariaDB DDL would commit it. */
  async ensureTable(): Promise<void> {
    const e = (column: string) => this.dataSource.driver.escape(column);
    await this.queryRunner.query(
      `CREATE TABLE IF NOT EXISTS ${this.table()} (${e('name')} VARCHAR(255) NOT NULL PRIMARY KEY, ${e('operation')} VARCHAR(8) NOT NULL, ` +
        `${e('started_at')} VARCHAR(32) NOT NULL, ${e('started_by')} VARCHAR(255) NOT NULL, ${e('transaction_mode')} VARCHAR(8) NOT NULL)`,
    );
  }

  /** Records that `name` starts now, in the query runner's transaction if one is open. */
  async insert(name: string, operation: 'up' | 'down', transaction: string): Promise<void> {
    const e = (column: string) => this.dataSource.driver.escape(column);
    await this.queryRunner.query(
      `INSERT INTO ${this.table()} (${e('name')}, ${e('operation')}, ${e('started_at')}, ${e('started_by')}, ${e('transaction_mode')}) ` +
        `VALUES (${this.parameters(5)})`,
      [name, operation, new Date().toISOString(), thisProcess(), transaction],
    );
  }

  /**
   * Records that `name` starts being applied now, in the query runner's transaction if one is open:
   * a new row, or (one statement) the row of `previous`, a migration of this run already recorded
   * as applied, moved on to `name`. With `onlyIf` (a condition with `?` parameters, MySQL), the
   * statement writes only when it holds, and this resolves false when it wrote nothing.
   */
  async record(previous: string | undefined, name: string, transaction: string, onlyIf?: LockCondition): Promise<boolean> {
    const e = (column: string) => this.dataSource.driver.escape(column);
    const values = [new Date().toISOString(), thisProcess(), transaction];
    if (!onlyIf) {
      if (previous === undefined) await this.insert(name, 'up', transaction);
      else await this.moveTo(previous, name, values);
      return true;
    }
    const result = (await this.queryRunner.query(
      previous === undefined
        ? `INSERT INTO ${this.table()} (${e('name')}, ${e('operation')}, ${e('started_at')}, ${e('started_by')}, ${e('transaction_mode')}) ` +
            `SELECT ?, ?, ?, ?, ? FROM DUAL WHERE ${onlyIf.sql}`
        : `${this.moveSql()} AND ${onlyIf.sql}`,
      previous === undefined ? [name, 'up', ...values, ...onlyIf.parameters] : [name, ...values, previous, ...onlyIf.parameters],
    )) as { affectedRows?: number };
    return result.affectedRows === 1;
  }

  private async moveTo(previous: string, name: string, values: unknown[]): Promise<void> {
    await this.queryRunner.query(this.moveSql(), [name, ...values, previous]);
  }

  /** Moves the row of one migration (last parameter) to another (first), with when, who and the transaction mode. */
  private moveSql(): string {
    const e = (column: string) => this.dataSource.driver.escape(column);
    const [p1, p2, p3, p4, p5] = this.parameterList(5);
    return (
      `UPDATE ${this.table()} SET ${e('name')} = ${p1}, ${e('started_at')} = ${p2}, ${e('started_by')} = ${p3}, ${e('transaction_mode')} = ${p4} ` +
      `WHERE ${e('name')} = ${p5}`
    );
  }

  /** Removes the marker of `name`, if any. */
  async remove(name: string): Promise<void> {
    await this.queryRunner.query(`DELETE FROM ${this.table()} WHERE ${this.dataSource.driver.escape('name')} = ${this.parameters(1)}`, [
      name,
    ]);
  }

  /**
   * Before a run: throws a {@link MigrationDirtyError} for a marker whose migration is not recorded
   * as applied (started, never finished). With `clearFinished` (the run holds the lock), removes the
   * markers of recorded ones (they finished: recorded, then the process died before removing the
   * marker); without the lock, another run may be moving such a row, and deleting it would wait on it.
   */
  async assertNoneUnfinished(
    recorded: readonly string[],
    label: string,
    dataSourceName: string,
    options: { clearFinished: boolean },
  ): Promise<void> {
    const markers = await this.read();
    if (markers.length === 0) return;
    const { unfinished, finished } = splitStarted(markers, recorded);
    if (unfinished.length > 0) {
      // Only on this path (a run refused): what an interrupted CREATE INDEX CONCURRENTLY left is part of the repair.
      const invalid = await readInvalidIndexes(this.queryRunner).catch(() => []);
      throw dirtyError(label, dataSourceName, unfinished, invalid);
    }
    if (options.clearFinished) for (const marker of finished) await this.remove(marker.name);
  }

  /** The marker of `name`, if there is one; undefined too when it cannot be read (the connection died). */
  async find(name: string): Promise<StartedMigration | undefined> {
    const all = await this.read().catch(() => []);
    return all.find((marker) => marker.name === name);
  }

  private table(): string {
    return escapedTable(this.dataSource, this.queryRunner, startedTableName(this.dataSource));
  }

  private parameters(count: number): string {
    return this.parameterList(count).join(', ');
  }

  private parameterList(count: number): string[] {
    return placeholders(this.dataSource, count);
  }
}

/** The markers of a DataSource, oldest first. Read-only: a missing table means none. */
export async function readStartedMigrations(dataSource: DataSource, queryRunner?: QueryRunner): Promise<StartedMigration[]> {
  const e = (column: string) => dataSource.driver.escape(column);
  const rows = await selectIfTableExists(
    dataSource,
    queryRunner,
    startedTableName(dataSource),
    (from) =>
      `SELECT ${e('name')} AS name, ${e('operation')} AS operation, ${e('started_at')} AS started_at, ${e('started_by')} AS started_by, ` +
      `${e('transaction_mode')} AS transaction_mode FROM ${from} ORDER BY ${e('started_at')}`,
    // Absent wherever nothing ever needed a marker: no failed statement in the logs at every run.
    true,
  );
  return rows.map((row) => ({
    name: String(row['name']),
    operation: row['operation'] === 'down' ? 'down' : 'up',
    startedAt: new Date(String(row['started_at'])),
    startedBy: String(row['started_by']),
    transaction: String(row['transaction_mode']),
  }));
}

/** Markers of migrations not recorded as applied (unfinished), and of recorded ones (finished). */
export function splitStarted(
  markers: readonly StartedMigration[],
  recorded: readonly string[],
): { unfinished: StartedMigration[]; finished: StartedMigration[] } {
  const names = new Set(recorded);
  return { unfinished: markers.filter((m) => !names.has(m.name)), finished: markers.filter((m) => names.has(m.name)) };
}

/** One line on an unfinished migration: what, when, by whom. */
export function describeStarted(marker: StartedMigration): string {
  const doing = marker.operation === 'down' ? 'being reverted' : 'being applied';
  return `"${marker.name}" started ${doing} at ${marker.startedAt.toISOString()} by ${marker.startedBy} (transaction mode '${marker.transaction}') and never finished`;
}

/** What a failure's message adds when the failed migration's started marker outlived the rollback. */
export function unfinishedAdvice(migration: string): string {
  return (
    `"${migration}" stays recorded as started and not finished: the next run refuses to run it until the schema is repaired and it is ` +
    `marked with "auto-migrator resolve ${migration} --applied" or "--not-applied" (AutoMigratorService.resolve()).`
  );
}

/** The error a run gets when it finds unfinished migrations: what, when, by whom, and what to do. */
export function dirtyError(
  label: string,
  dataSourceName: string,
  unfinished: readonly StartedMigration[],
  invalidIndexes: readonly InvalidIndex[] = [],
): MigrationDirtyError {
  const first = unfinished[0]!;
  return new MigrationDirtyError(
    `${label}: migration ${unfinished.map(describeStarted).join('; ')}. ` +
      `It may be partially ${first.operation === 'down' ? 'reverted' : 'applied'} (MySQL/MariaDB commit DDL implicitly; without a transaction nothing is rolled back), ` +
      `so nothing was run: running it again would fail on what it already created, or skip what it did not finish. ` +
      (invalidIndexes.length > 0 ? `${describeInvalidIndexes(invalidIndexes).replace(/^t/, 'T')}. ` : '') +
      `Repair the schema by hand, then mark it: "auto-migrator resolve ${first.name} --applied" when the schema now has everything it does, ` +
      `or "--not-applied" when it has none of it (it runs again next time); in the application, AutoMigratorService.resolve().`,
    dataSourceName,
    unfinished,
  );
}
