import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { buildChecksum, CHECKSUM_VERSION, normalisedChecksum, RECORDED_TEXT, recordedTextChecksum } from '../plan/migration-checksum.js';
import { migrationName } from '../plan/build-migrations.js';
import { withExpectedFailures } from '../typeorm/redacting-logger.js';
import { errorChain } from '../util/error-chain.js';
import {
  columnExists,
  escapedTable,
  isMissingColumn,
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
  /** up()'s text as recorded (a checksum recorded as `text:`); undefined when the table has none. */
  readonly sourceText: string | undefined;
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

/**
 * The checksums' table as found: `missing` (false too where the migrations table is), `no-row-ids`
 * (written by a version of this library that did not record which row of the migrations table
 * each checksum is for: upgraded by the next run that writes), `no-source-text` (by a version that
 * recorded no up() text: upgraded by the next write), `current`.
 */
export type ChecksumsTableState = 'missing' | 'no-row-ids' | 'no-source-text' | 'current';

/** The states a read tries, newest first: each reads the columns the one before it lacks no more. */
const READ_STATES = ['current', 'no-source-text', 'no-row-ids'] as const;

/** What the read of the migrations table found, with each row's recorded checksum (if any). */
export interface RecordedRows {
  /**
   * One per migration recorded as applied, in the order applied: its `name`, any `extra` columns,
   * its `row_id` in the migrations table, and its checksum's `source_hash` and `migration_id` (the
   * row it was recorded for; null: none, or not known).
   */
  readonly rows: ReadonlyArray<Record<string, unknown>>;
  readonly checksumsTable: ChecksumsTableState;
  /** The migrations table does not exist (known when the catalog was asked first; otherwise no rows say so). */
  readonly noMigrationsTable?: true;
  /** The table `beside` asked about does not exist (known when the catalog was asked first). */
  readonly besideMissing?: true;
}

/**
 * The migrations table's rows in the order applied, each with the `source_hash` and `migration_id`
 * of its recorded checksum, in one statement (a LEFT JOIN on the checksums' table). Read-only: a
 * missing migrations table means no rows; a missing checksums' table (nothing recorded yet), or one
 * without `migration_id`, costs a second, plain read (on PostgreSQL, a missing table costs the
 * catalog's answer first: which one, and `noMigrationsTable`). `extra` adds columns (`beside`
 * escapes another table's path).
 */
export async function readRecordedRows(
  dataSource: DataSource,
  queryRunner: QueryRunner | undefined,
  options: {
    /** Columns added to each row (`beside` escapes another table's path). */
    readonly extra?: (beside: (table: string) => string) => string;
    /** Ask the catalog before reading: the tables are likely missing (a new tenant), and each read that fails costs a round trip. */
    readonly askFirst?: boolean;
    /** A table beside the migrations table whose existence the catalog question tells too (PostgreSQL; see RecordedRows.besideMissing). */
    readonly beside?: string;
  } = {},
): Promise<RecordedRows> {
  const { extra = () => '', askFirst = false } = options;
  const runner = queryRunner ?? dataSource.createQueryRunner();
  try {
    const beside = (table: string) => escapedTable(dataSource, runner, table);
    const e = (column: string) => dataSource.driver.escape(column);
    // Inside a transaction a failed statement would abort it: ask first.
    const asked = askFirst || runner.isTransactionActive;
    const join = (table: (typeof READ_STATES)[number]) => {
      // MySQL/MariaDB: the checksums' table is created with the migrations table's collation (see ensure).
      const on = `c.${e('name')} = m.${e('name')}`;
      // Only the exact text's hash: equal (every restart of the same build) needs nothing more. The
      // text itself is not read: naming its column tells whether the table has it.
      const recorded =
        `c.${e('source_hash')} AS source_hash` +
        (table !== 'no-row-ids' ? `, c.${e('migration_id')} AS migration_id` : '') +
        (table === 'current' ? `, c.${e('source_text')} IS NOT NULL AS with_text` : '');
      return (
        `SELECT m.${e('name')} AS name${extra(beside)}, m.${e('id')} AS row_id, ${recorded} ` +
        `FROM ${beside(migrationsTableName(dataSource))} m LEFT JOIN ${beside(checksumsTableName(dataSource))} c ON ${on} ORDER BY m.${e('id')}`
      );
    };
    const plain = (from: string, besideOther: (table: string) => string) =>
      `SELECT ${e('name')} AS name${extra(besideOther)}, ${e('id')} AS row_id FROM ${from} ORDER BY ${e('id')}`;
    // Asks the catalog which tables exist, then reads what is there in one statement.
    const askCatalog = async (): Promise<RecordedRows> => {
      const tables = await historyTablesState(dataSource, runner, options.beside);
      const besideMissing = tables.besideMissing ? { besideMissing: true as const } : {};
      if (tables.state === 'no-migrations-table') return { rows: [], checksumsTable: 'missing', noMigrationsTable: true, ...besideMissing };
      const sql = tables.state === 'missing' ? plain(beside(migrationsTableName(dataSource)), beside) : join(tables.state);
      return { rows: (await runner.query(sql)) as Array<Record<string, unknown>>, checksumsTable: tables.state, ...besideMissing };
    };
    if (asked) return await askCatalog();
    // Read, newest state first: each failure is a round trip (TypeORM's logger does not report it).
    for (const table of READ_STATES) {
      const select = () => runner.query(join(table)) as Promise<Array<Record<string, unknown>>>;
      const expected = (error: unknown) => isMissingTable(error) || (table !== 'no-row-ids' && isMissingColumn(error));
      try {
        return { rows: await withExpectedFailures(runner, expected, select), checksumsTable: table };
      } catch (error) {
        if (!expected(error)) throw error;
        if (!isMissingTable(error)) continue;
        // PostgreSQL: the catalog says in one statement which table is missing (a fresh database: the
        // migrations table, and the run under the lock then asks it first, instead of failing reads).
        if (dataSource.options.type === 'postgres') return await askCatalog();
        break;
      }
    }
    return { rows: await selectIfTableExists(dataSource, runner, migrationsTableName(dataSource), plain), checksumsTable: 'missing' };
  } finally {
    if (!queryRunner) await runner.release();
  }
}

/**
 * Whether the migrations table exists, and the checksums' table's state: on PostgreSQL in one
 * catalog statement; elsewhere a question per table and column.
 */
async function historyTablesState(
  dataSource: DataSource,
  runner: QueryRunner,
  beside: string | undefined,
): Promise<{ state: ChecksumsTableState | 'no-migrations-table'; besideMissing?: boolean }> {
  if (dataSource.options.type === 'postgres') {
    const [row] = (await runner.query(
      `SELECT to_regclass($1) IS NOT NULL AS migrations, to_regclass($2) IS NOT NULL AS checksums, ` +
        `EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($2) AND attname = 'migration_id' AND NOT attisdropped) AS row_ids, ` +
        `EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($2) AND attname = 'source_text' AND NOT attisdropped) AS source_text, ` +
        `$3::text IS NOT NULL AND to_regclass($3) IS NULL AS beside_missing`,
      [
        escapedTable(dataSource, runner, migrationsTableName(dataSource)),
        escapedTable(dataSource, runner, checksumsTableName(dataSource)),
        beside === undefined ? null : escapedTable(dataSource, runner, beside),
      ],
    )) as Array<{ migrations: boolean; checksums: boolean; row_ids: boolean; source_text: boolean; beside_missing: boolean }>;
    const besideMissing = row?.beside_missing === true;
    if (!row?.migrations) return { state: 'no-migrations-table', besideMissing };
    return {
      state: !row.checksums ? 'missing' : !row.row_ids ? 'no-row-ids' : !row.source_text ? 'no-source-text' : 'current',
      besideMissing,
    };
  }
  if (!(await tableExists(dataSource, runner, migrationsTableName(dataSource)))) return { state: 'no-migrations-table' };
  return { state: await checksumsTableState(dataSource, runner) };
}

/** The checksums' table's state, asked of the catalog (see {@link ChecksumsTableState}). */
async function checksumsTableState(dataSource: DataSource, runner: QueryRunner): Promise<ChecksumsTableState> {
  const table = checksumsTableName(dataSource);
  if (!(await tableExists(dataSource, runner, table))) return 'missing';
  if (!(await columnExists(dataSource, runner, table, 'migration_id'))) return 'no-row-ids';
  return (await columnExists(dataSource, runner, table, 'source_text')) ? 'current' : 'no-source-text';
}

/** The checksums recorded for `names`, read in full (one statement): for the migrations whose exact text differs. */
async function readChecksums(
  dataSource: DataSource,
  queryRunner: QueryRunner | undefined,
  names: readonly string[],
  withText: boolean,
): Promise<Map<string, RecordedChecksum>> {
  const e = (column: string) => dataSource.driver.escape(column);
  const runner = queryRunner ?? dataSource.createQueryRunner();
  try {
    const list = placeholders(dataSource, names.length).join(', ');
    const rows = (await runner.query(
      `SELECT ${e('name')} AS name, ${e('checksum')} AS checksum, ${e('source_hash')} AS source_hash, ${e('origin')} AS origin, ` +
        `${e('recorded_at')} AS recorded_at${withText ? `, ${e('source_text')} AS source_text` : ''} ` +
        `FROM ${escapedTable(dataSource, runner, checksumsTableName(dataSource))} WHERE ${e('name')} IN (${list})`,
      [...names],
    )) as Array<Record<string, unknown>>;
    const recorded = new Map<string, RecordedChecksum>();
    for (const row of rows) {
      const origin = row['origin'];
      const text = row['source_text'];
      recorded.set(String(row['name']), {
        checksum: String(row['checksum']),
        sourceHash: String(row['source_hash']),
        sourceText: typeof text === 'string' ? text : undefined,
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
  /**
   * Applied again since their checksum was recorded: their row in the migrations table is not the
   * one the checksum was recorded for (TypeORM's `migration:revert`, then `migration:run`). What
   * ran last is not what the checksum describes: they are recorded again, as a baseline.
   */
  readonly reapplied: readonly string[];
}

/** What the read of the migrations table found of one applied migration (see {@link readRecordedRows}). */
export interface RecordedRow {
  /** Its row's id in the migrations table. */
  readonly rowId: string;
  /** The exact text's hash its checksum was recorded with; undefined: no checksum. */
  readonly sourceHash: string | undefined;
  /** The migrations table row its checksum was recorded for; undefined: not known (recorded before row ids were). */
  readonly migrationId: string | undefined;
}

/** {@link readRecordedRows}' rows by name (the newest row of a name recorded twice). */
export function recordedRowsByName(rows: ReadonlyArray<Record<string, unknown>>): Map<string, RecordedRow> {
  const text = (value: unknown) => (value === null || value === undefined ? undefined : String(value));
  return new Map(
    rows.map((row) => [
      String(row['name']),
      { rowId: String(row['row_id']), sourceHash: text(row['source_hash']), migrationId: text(row['migration_id']) },
    ]),
  );
}

/**
 * Compares the checksums recorded for the `applied` migrations (known to this build; `recorded`
 * from {@link readRecordedRows}, the table as `table` found it) with this build's: an equal exact
 * text is unchanged at once (no more is read); for the others the recorded checksums are read (one
 * statement) and compared with the normalised ones (see migration-checksum.ts), a recorded text's
 * normalised here. A migration with no checksum, or one of another version, is unrecorded, not
 * changed; one whose row is newer than its checksum is reapplied.
 */
export async function compareChecksums(
  dataSource: DataSource,
  queryRunner: QueryRunner | undefined,
  applied: readonly string[],
  recorded: ReadonlyMap<string, RecordedRow>,
  table: ChecksumsTableState,
): Promise<ChecksumComparison> {
  const instances = instancesByName(dataSource.migrations);
  const unrecorded: string[] = [];
  const reapplied: string[] = [];
  const differing: string[] = [];
  for (const name of applied) {
    const build = buildChecksum(instances.get(name)!);
    const row = recorded.get(name);
    if (!build || !row) continue;
    if (row.sourceHash === undefined) unrecorded.push(name);
    else if (row.migrationId !== undefined && row.migrationId !== row.rowId) reapplied.push(name);
    else if (row.sourceHash !== build.sourceHash) differing.push(name);
  }
  if (differing.length === 0) return { changed: [], unrecorded, stale: [], reapplied };
  const checksums = await readChecksums(dataSource, queryRunner, differing, table === 'current');
  const changed: ChangedMigration[] = [];
  const stale: string[] = [];
  for (const name of differing) {
    const entry = checksums.get(name);
    const build = buildChecksum(instances.get(name)!)!;
    const recordedChecksum = entry && normalisedOf(entry);
    if (recordedChecksum === undefined) unrecorded.push(name);
    else if (recordedChecksum === build.checksum()) stale.push(name);
    else {
      changed.push({
        name,
        ...(entry!.origin === 'applied' ? { appliedAt: entry!.recordedAt } : {}),
        recordedAs: entry!.origin,
        recordedAt: entry!.recordedAt,
        recorded: recordedChecksum,
        current: build.checksum(),
      });
    }
  }
  return { changed, unrecorded, stale, reapplied };
}

/**
 * The normalised checksum a recorded one stands for: itself (`v1:`), or its recorded text's
 * (`text:`); undefined for another version, or a text the table no longer has.
 */
function normalisedOf(entry: RecordedChecksum): string | undefined {
  if (entry.checksum.startsWith(`${CHECKSUM_VERSION}:`)) return entry.checksum;
  if (entry.checksum.startsWith(`${RECORDED_TEXT}:`) && entry.sourceText !== undefined) return normalisedChecksum(entry.sourceText);
  return undefined;
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

/** Rows at most per INSERT (five or six parameters each). */
const ROWS_PER_STATEMENT = 200;

/**
 * What a write of checksums replaces of those recorded before: `all` (a migration applied, an edit
 * accepted); `older-version` (a baseline: only one of another checksum version, so that it never
 * replaces what a run applying the migration wrote); `other-row` (a migration reapplied: only one
 * recorded for another row of the migrations table, so that replicas racing for it write it once).
 */
type Replacing = 'all' | 'older-version' | 'other-row';

/** Writes and removes the checksums of one DataSource (or tenant), on one query runner, in its transaction if one is open. */
export class ChecksumTable {
  constructor(
    private readonly dataSource: DataSource,
    private readonly queryRunner: QueryRunner,
  ) {}

  /**
   * Makes the table ready for writes, as `state` found it (undefined: not known, asked here):
   * created when missing, given `migration_id` when it has none (see {@link upgrade}). Outside any
   * transaction on MySQL/MariaDB (DDL would commit it), where it takes the migrations table's
   * collation: the read joins the two on the name, and two collations would make MySQL refuse the
   * comparison (or, cast, compare without the index).
   */
  async ensure(state?: ChecksumsTableState): Promise<void> {
    if (state === 'current') return;
    if (state === 'no-row-ids' || state === 'no-source-text') return this.upgrade();
    const e = (column: string) => this.dataSource.driver.escape(column);
    const postgres = this.dataSource.options.type === 'postgres';
    try {
      await this.queryRunner.query(
        `CREATE TABLE IF NOT EXISTS ${this.table()} (${e('name')} VARCHAR(255) NOT NULL PRIMARY KEY, ${e('checksum')} VARCHAR(80) NOT NULL, ` +
          `${e('source_hash')} VARCHAR(80) NOT NULL, ${e('origin')} VARCHAR(8) NOT NULL, ${e('recorded_at')} VARCHAR(32) NOT NULL, ` +
          `${e('migration_id')} BIGINT NULL, ${e('source_text')} ${this.textType()} NULL)` +
          (await this.mysqlCollation()) +
          // PostgreSQL, in the same round trip: had a replica of an earlier version created it since it
          // was read, without these columns, this run's record (in its migration's transaction) would fail.
          (postgres
            ? `; ALTER TABLE ${this.table()} ADD COLUMN IF NOT EXISTS ${e('migration_id')} BIGINT NULL, ` +
              `ADD COLUMN IF NOT EXISTS ${e('source_text')} TEXT NULL`
            : ''),
      );
    } catch (error) {
      // PostgreSQL: two sessions creating it at once; the other one did.
      if (![...errorChain(error)].some(({ code }) => code === '23505' || code === '42P07')) throw error;
    }
    // It may have been there already, from a version of this library that kept no row ids.
    if (state === undefined) await this.upgrade();
  }

  /**
   * A table written by an earlier version of this library gets what it lacks: `migration_id` (a
   * version that did not record which row of the migrations table each checksum is for), filled
   * with the row each name has now: what its checksum was compared with until now; `source_text`
   * (a version that recorded no up() text), empty: its rows keep their normalised checksums. Two
   * processes upgrading at once: the second finds it done.
   */
  private async upgrade(): Promise<void> {
    const e = (column: string) => this.dataSource.driver.escape(column);
    const table = checksumsTableName(this.dataSource);
    const types = { migration_id: 'BIGINT', source_text: this.textType() };
    const missing: Array<keyof typeof types> = [];
    for (const column of ['migration_id', 'source_text'] as const)
      if (!(await columnExists(this.dataSource, this.queryRunner, table, column))) missing.push(column);
    if (missing.length === 0) return;
    const postgres = this.dataSource.options.type === 'postgres';
    // SQLite adds one column per ALTER.
    for (const added of postgres || isMysqlFamily(this.dataSource) ? [missing] : missing.map((column) => [column])) {
      try {
        // PostgreSQL: IF NOT EXISTS, as a failed statement would abort a transaction open here; and a
        // lock timeout, so that the ALTER does not queue behind a long run's transaction on the table
        // and every replica's read behind it (the next run tries again).
        await this.queryRunner.query(
          postgres
            ? // Outside a transaction only: inside one, the setting would outlast this statement.
              `${this.queryRunner.isTransactionActive ? '' : `SELECT set_config('lock_timeout', '2s', true); `}` +
                `ALTER TABLE ${this.table()} ${added.map((column) => `ADD COLUMN IF NOT EXISTS ${e(column)} ${types[column]} NULL`).join(', ')}`
            : `ALTER TABLE ${this.table()} ${added.map((column) => `ADD ${e(column)} ${types[column]} NULL`).join(', ')}`,
        );
      } catch (error) {
        // MySQL/MariaDB ER_DUP_FIELDNAME, SQLite "duplicate column name": another process added it meanwhile.
        const duplicate =
          [...errorChain(error)].some(({ code, errno }) => code === 'ER_DUP_FIELDNAME' || errno === 1060) ||
          /duplicate column/i.test(String((error as { message?: unknown } | null)?.message ?? ''));
        if (!duplicate) throw error;
      }
    }
    if (!missing.includes('migration_id')) return;
    await this.queryRunner.query(
      `UPDATE ${this.table()} SET ${e('migration_id')} = ${this.rowIdOf(`${this.table()}.${e('name')}`)} WHERE ${e('migration_id')} IS NULL`,
    );
  }

  /** The column type of up()'s text: MySQL/MariaDB's TEXT holds 64 KiB, a generated migration's SQL can hold more. */
  private textType(): string {
    return isMysqlFamily(this.dataSource) ? 'MEDIUMTEXT' : 'TEXT';
  }

  /**
   * Records this build's up() text (see RECORDED_TEXT) of each named migration of the build as
   * `origin`, for its row in the migrations table, replacing what `replacing` says (default: a
   * baseline only one of another checksum version, else all). Migrations whose up() has no source
   * text are skipped. Nothing is tokenised.
   */
  async record(names: readonly string[], origin: ChecksumOrigin, replacing?: Replacing): Promise<void> {
    const instances = instancesByName(this.dataSource.migrations);
    const now = new Date().toISOString();
    const values: unknown[][] = [];
    // Once each: a migrations table written without the lock may hold a name twice.
    for (const name of new Set(names)) {
      const instance = instances.get(name);
      const build = instance && buildChecksum(instance);
      if (build) values.push([name, recordedTextChecksum(build), build.sourceHash, origin, now, build.text]);
    }
    const postgres = this.dataSource.options.type === 'postgres';
    for (let start = 0; start < values.length; start += ROWS_PER_STATEMENT) {
      const chunk = values.slice(start, start + ROWS_PER_STATEMENT);
      // The row id is looked up by the name: PostgreSQL reuses the name's parameter, `?` takes it again.
      // `?` binds in the order written: the name again before the text.
      const width = postgres ? 6 : 7;
      const tuples = chunk.map((_, row) => {
        const slots = placeholders(this.dataSource, width, row * width);
        const [name, checksum, hash, rowOrigin, at] = slots;
        const [nameAgain, text] = postgres ? [name, slots[5]] : [slots[5], slots[6]];
        return `(${[name, checksum, hash, rowOrigin, at, this.rowIdOf(nameAgain!), text].join(', ')})`;
      });
      const parameters = chunk.flatMap((row) => (postgres ? row : [...row.slice(0, 5), row[0], row[5]]));
      await this.queryRunner.query(
        this.upsertSql(`VALUES ${tuples.join(', ')}`, replacing ?? (origin === 'baseline' ? 'older-version' : 'all')),
        parameters,
      );
    }
  }

  /**
   * After a rebuild that changed the compiled text of migrations but not their checksums: records
   * the new text and its hash (the checksum they stand for is the same), so that later restarts
   * compare them without tokenising. The table has `source_text` (see ensure).
   */
  async refreshSourceHashes(names: readonly string[]): Promise<void> {
    const instances = instancesByName(this.dataSource.migrations);
    const e = (column: string) => this.dataSource.driver.escape(column);
    const [p1, p2, p3, p4] = placeholders(this.dataSource, 4);
    for (const name of names) {
      const build = buildChecksum(instances.get(name)!);
      if (!build) continue;
      await this.queryRunner.query(
        `UPDATE ${this.table()} SET ${e('checksum')} = ${p1}, ${e('source_hash')} = ${p2}, ${e('source_text')} = ${p3} WHERE ${e('name')} = ${p4}`,
        [recordedTextChecksum(build), build.sourceHash, build.text, name],
      );
    }
  }

  /**
   * PostgreSQL: records `migration` in the migrations table, with its columns as TypeORM's executor
   * writes them (timestamp, name), and its up() text as `applied` for the row just inserted, in one
   * statement: a migration per tenant over thousands of tenants costs no round trip more than
   * TypeORM's record alone.
   */
  async recordWithMigration(migration: { readonly name: string; readonly timestamp: number }): Promise<void> {
    const build = buildChecksum(instancesByName(this.dataSource.migrations).get(migration.name)!);
    const e = (column: string) => this.dataSource.driver.escape(column);
    const record = `INSERT INTO ${escapedTable(this.dataSource, this.queryRunner, migrationsTableName(this.dataSource))} (${e('timestamp')}, ${e('name')}) VALUES ($1, $2)`;
    if (!build) {
      await this.queryRunner.query(record, [migration.timestamp, migration.name]);
      return;
    }
    await this.queryRunner.query(
      `WITH recorded AS (${record} RETURNING ${e('id')}) ` +
        this.upsertSql(`SELECT $2, $3, $4, $5, $6, ${e('id')}, $7 FROM recorded`, 'all'),
      [migration.timestamp, migration.name, recordedTextChecksum(build), build.sourceHash, 'applied', new Date().toISOString(), build.text],
    );
  }

  /** Forgets the checksum of `name` (reverted, or resolved as not applied). */
  async remove(name: string): Promise<void> {
    const [parameter] = placeholders(this.dataSource, 1);
    await this.queryRunner.query(`DELETE FROM ${this.table()} WHERE ${this.dataSource.driver.escape('name')} = ${parameter}`, [name]);
  }

  /** The id of the migrations table's row for the name `name` (an SQL expression): the newest, where a name was recorded twice. */
  private rowIdOf(name: string): string {
    const e = (column: string) => this.dataSource.driver.escape(column);
    const migrations = escapedTable(this.dataSource, this.queryRunner, migrationsTableName(this.dataSource));
    // PostgreSQL: a parameter also bound in VALUES (deduced there from the column, varchar) is the same type here.
    const cast = this.dataSource.options.type === 'postgres' ? '::varchar' : '';
    return `(SELECT MAX(${e('id')}) FROM ${migrations} WHERE ${e('name')} = ${name}${cast})`;
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
   * An INSERT of the rows `source` gives (name, checksum, source_hash, origin, recorded_at,
   * migration_id, source_text), replacing those recorded before as `replacing` says.
   */
  private upsertSql(source: string, replacing: Replacing): string {
    const e = (column: string) => this.dataSource.driver.escape(column);
    const columns = ['name', 'checksum', 'source_hash', 'origin', 'recorded_at', 'migration_id', 'source_text'];
    const postgres = this.dataSource.options.type === 'postgres';
    // The condition on the row recorded before, as SQL over a column of it (`existing`) and of the new one (`incoming`).
    const keep = (existing: (column: string) => string, incoming: (column: string) => string): string | undefined =>
      replacing === 'older-version'
        ? `(${existing('checksum')} LIKE '${CHECKSUM_VERSION}:%' OR ${existing('checksum')} LIKE '${RECORDED_TEXT}:%')`
        : replacing === 'other-row'
          ? isMysqlFamily(this.dataSource)
            ? `${existing('migration_id')} <=> ${incoming('migration_id')}`
            : `${existing('migration_id')} IS NOT DISTINCT FROM ${incoming('migration_id')}`
          : undefined;
    let onConflict: string;
    if (isMysqlFamily(this.dataSource)) {
      // MySQL assigns left to right: the column the condition reads goes last.
      const last = replacing === 'other-row' ? 'migration_id' : 'checksum';
      const updated = [...columns.slice(1).filter((column) => column !== last), last];
      const kept = keep(e, (column) => `VALUES(${e(column)})`);
      onConflict = `ON DUPLICATE KEY UPDATE ${updated
        .map((column) => `${e(column)} = ${kept ? `IF(${kept}, ${e(column)}, VALUES(${e(column)}))` : `VALUES(${e(column)})`}`)
        .join(', ')}`;
    } else {
      const kept = keep(
        (column) => `${postgres ? 't.' : ''}${e(column)}`,
        (column) => `excluded.${e(column)}`,
      );
      onConflict =
        `ON CONFLICT (${e('name')}) DO UPDATE SET ${columns
          .slice(1)
          .map((column) => `${e(column)} = excluded.${e(column)}`)
          .join(', ')}` + (kept ? ` WHERE NOT (${kept})` : '');
    }
    return `INSERT INTO ${this.table()}${postgres ? ' AS t' : ''} (${columns.map(e).join(', ')}) ${source} ${onConflict}`;
  }

  private table(): string {
    return escapedTable(this.dataSource, this.queryRunner, checksumsTableName(this.dataSource));
  }
}
