import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { checksumsTableName } from '../../history/migration-checksums.js';
import type { MigrationStatusReport } from '../../history/migration-status.js';
import { isMysqlFamily, migrationsTableName } from '../../history/migrations-table.js';
import type { DataSourceMigrationRunner } from '../../runner/data-source-migration.runner.js';
import { startedTableName } from '../../history/started-migrations.js';
import { migrationName } from '../../plan/build-migrations.js';
import type { MigrationTransactionMode } from '../../contracts/migration-records.js';
import { SUMMARY_TABLE } from '../../tenants/tenant-summary.js';
import { declaredTransaction } from '../../typeorm/migration-internals.js';
import { quoteIdentifier } from '../../util/sql-identifier.js';
import { RUNNING_BUILDS_TABLE } from '../snapshot/running-builds.js';
import { openMysqlShadow } from '../shadow/mysql-shadow.js';
import { ShadowDatabase, type ShadowContext, type ShadowOption } from '../shadow/shadow-database.js';
import { mysqlServerWideCheck, serverWideStatement, sqliteServerWideStatement } from '../sql/server-wide-statements.js';
import { openSqliteShadow } from '../shadow/sqlite-shadow.js';
import { compareSchemas, readSchemaCatalog, schemaOfKey, type CatalogObject, type SchemaDifference } from './schema-catalog.js';
import { PreviewTransaction, type PreviewLimits } from '../dry-run/preview-transaction.js';
import { PreviewStoppedError } from '../../errors/preview-stopped.error.js';

/** A replay's bounds: a long history takes minutes; a statement waits at most this long for a lock in the shadow. */
const REPLAY_LIMITS: PreviewLimits = { timeoutMs: 3_600_000, lockTimeoutMs: 10_000 };

/** Where the history is replayed: a shadow database (see ShadowPurpose 'replay'). */
export interface ReplayOption extends ShadowOption {
  /** Allow a temporary database on the live server, or a URL on it (replay runs every applied migration's code there). */
  readonly onLiveServer?: boolean;
}

/** The history against the live schema: the applied migrations replayed on an empty shadow, and the two schemas compared. */
export interface HistoryReplay {
  /** Where it ran: `temporary database "…"`, or `shadow database host:port/db, user "…"` (absent where nothing ran). */
  readonly shadow?: string;
  /** How many applied migrations ran there. */
  readonly replayed: number;
  /** Why the history could not be replayed, when it could not (then nothing is compared). */
  readonly notReplayed?: string;
  /** Each difference between the live schema and the one the history builds. */
  readonly differences: readonly SchemaDifference[];
  /** PostgreSQL: how many live schemas the history does not build and the DataSource does not name (tenants', say), not compared. */
  readonly schemasNotCompared?: number;
  readonly durationMs: number;
}

/**
 * {@link replayHistory} for a DataSource's runner, from the status just read: every recorded
 * migration, in the order applied. PostgreSQL only (MySQL/MariaDB: said, not replayed).
 */
export async function replayInShadow(
  runner: DataSourceMigrationRunner,
  status: MigrationStatusReport,
  option: ReplayOption,
): Promise<HistoryReplay> {
  const { dataSource, label, transaction } = runner.plan;
  if (dataSource.options.type !== 'postgres' && !isMysqlFamily(dataSource) && !isSqlite(dataSource)) {
    return {
      replayed: 0,
      notReplayed: `replaying the history is for PostgreSQL, MySQL/MariaDB and SQLite (not ${dataSource.options.type})`,
      differences: [],
      durationMs: 0,
    };
  }
  const applied = [...status.applied, ...status.unknown].sort((a, b) => a.order - b.order).map((migration) => migration.name);
  const replay = await replayHistory(dataSource, applied, transaction, option, { label, logger: runner.logger, redactor: runner.redactor });
  // What leaves the library (text, JSON, a baseline file) passes the redactor: a view's or a default's SQL may hold a secret.
  const { redactor } = runner;
  return {
    ...replay,
    ...(replay.notReplayed === undefined ? {} : { notReplayed: redactor.redact(replay.notReplayed) }),
    differences: replay.differences.map((difference) => ({
      ...difference,
      name: redactor.redact(difference.name),
      ...(difference.live === undefined ? {} : { live: redactor.redact(difference.live) }),
      ...(difference.history === undefined ? {} : { history: redactor.redact(difference.history) }),
    })),
  };
}

/**
 * Replays `applied` (the names in the migrations table, in the order applied) on an empty shadow
 * of `live`, each migration in its own transaction unless it runs without one, then compares the
 * live schema with the shadow's, leaving out TypeORM's and the library's own tables. Statements
 * that act on the whole server stop the replay before they are sent. A migration this build does
 * not have, or one that fails (a history born of `synchronize`, squashed, or whose migrations
 * depend on data), ends it with `notReplayed` saying why, and nothing compared: a comparison then
 * would only be noise.
 */
export async function replayHistory(
  live: DataSource,
  applied: readonly string[],
  transaction: MigrationTransactionMode,
  option: ReplayOption,
  context: ShadowContext,
): Promise<HistoryReplay> {
  const started = performance.now();
  const instances = new Map(live.migrations.map((migration) => [String(migrationName(migration)), migration]));
  const missing = applied.filter((name) => !instances.has(name));
  const mysql = isMysqlFamily(live);
  const sqlite = isSqlite(live);
  const purpose = { kind: 'replay', onLiveServer: option.onLiveServer === true } as const;
  const shadow = mysql
    ? await openMysqlShadow(live, option, context, purpose)
    : sqlite
      ? await openSqliteShadow(live, context)
      : await ShadowDatabase.open(live, option, context, purpose);
  const result = (replayed: number, notReplayed?: string, differences: readonly SchemaDifference[] = []): HistoryReplay => ({
    shadow: shadow.description,
    replayed,
    ...(notReplayed === undefined ? {} : { notReplayed }),
    differences,
    durationMs: Math.round(performance.now() - started),
  });
  try {
    if (missing.length > 0) return result(0, `applied migrations this build does not have cannot run: ${missing.join(', ')}`);
    await shadow.prepareSession();
    // PostgreSQL: the schema the DataSource names is where its history runs; it exists before the first migration, as it did live.
    const schema = (live.driver.options as { schema?: string }).schema;
    if (!mysql && !sqlite) await prepareLikeLive(live, shadow.queryRunner, schema);
    const runner = shadow.queryRunner;
    // What could reach the live database through the server the shadow shares with it; on another
    // server nothing can (SQLite's ATTACH reaches any file, so there the guard always holds).
    const serverWide = sqlite
      ? sqliteServerWideStatement
      : !shadow.onLiveServer
        ? () => Promise.resolve(undefined)
        : mysql
          ? await mysqlServerWideCheck(runner)
          : serverWideStatement;
    // As plan runs a migration that commits in a shadow: every query its code makes, through the
    // query runner, the shadow's DataSource or the application's own, goes to the shadow's session
    // and is read first; a statement acting outside the shadow stops the replay before it is sent.
    const preview = await PreviewTransaction.begin(shadow.dataSource, runner, REPLAY_LIMITS, () => Promise.resolve(), {
      alsoRouted: [live],
      disposable: true,
      serverWide,
    });
    let replayed = 0;
    try {
      for (const name of applied) {
        try {
          await preview.runCommitted(() => runMigration(runner, instances.get(name)!, transaction));
        } catch (error) {
          const why =
            error instanceof PreviewStoppedError
              ? `"${name}" was stopped before it could act outside the shadow: ${error.message}`
              : `"${name}" failed on an empty database (${context.redactor.message(error)}): a history born of synchronize, squashed, or whose migrations need data cannot be replayed`;
          return result(replayed, why);
        }
        replayed += 1;
      }
    } finally {
      await preview.end();
    }
    const liveRunner = live.createQueryRunner();
    try {
      const [liveCatalog, historyCatalog] = [await readSchemaCatalog(liveRunner), await readSchemaCatalog(runner)];
      if (mysql || sqlite) return result(replayed, undefined, compareSchemas(liveCatalog, historyCatalog, ownTables(live)));
      // PostgreSQL: the schemas the history builds, and the DataSource's own; the live database's
      // others (tenants' schemas, another application's) are not this history's, and only counted.
      const compared = new Set([schema ?? 'public', ...historyCatalog.filter((o) => o.kind === 'schema').map((o) => o.key)]);
      const inCompared = (object: CatalogObject) => {
        const owner = schemaOfKey(object);
        return owner === undefined || compared.has(owner);
      };
      const others = liveCatalog.filter((object) => object.kind === 'schema' && !compared.has(object.key)).length;
      const differences = compareSchemas(liveCatalog.filter(inCompared), historyCatalog, ownTables(live));
      return { ...result(replayed, undefined, differences), ...(others > 0 ? { schemasNotCompared: others } : {}) };
    } finally {
      await liveRunner.release();
    }
  } finally {
    await shadow.close();
  }
}

/**
 * PostgreSQL: what the live database had before its first migration ran, and no migration makes:
 * the schema the DataSource names, and the extensions (TypeORM creates the ones its entities need
 * when it connects; a DBA, others), each in the schema it has live.
 */
async function prepareLikeLive(live: DataSource, shadow: QueryRunner, schema: string | undefined): Promise<void> {
  if (schema && schema !== 'public') await shadow.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
  const extensions = (await live.query(
    `SELECT x.extname AS name, n.nspname AS schema FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace WHERE x.extname <> 'plpgsql'`,
  )) as Array<{ name: string; schema: string }>;
  for (const extension of extensions) {
    await shadow.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(extension.schema)}`);
    await shadow.query(`CREATE EXTENSION IF NOT EXISTS ${quoteIdentifier(extension.name)} SCHEMA ${quoteIdentifier(extension.schema)}`);
  }
}

/** One migration as a run applies it: in a transaction of its own, unless it or the DataSource runs without one. */
async function runMigration(runner: QueryRunner, migration: MigrationInterface, transaction: MigrationTransactionMode): Promise<void> {
  if (transaction === 'none' || declaredTransaction(migration) === false) {
    await migration.up(runner);
    return;
  }
  await runner.startTransaction();
  await migration.up(runner);
  await runner.commitTransaction();
}

/** SQLite, through either of TypeORM's drivers. */
function isSqlite(dataSource: DataSource): boolean {
  const type: string = dataSource.options.type;
  return type === 'better-sqlite3' || type === 'sqlite';
}

/** TypeORM's and the library's own tables: the history does not build them as the live database has them. */
function ownTables(dataSource: DataSource): ReadonlySet<string> {
  return new Set([
    migrationsTableName(dataSource),
    checksumsTableName(dataSource),
    startedTableName(dataSource),
    SUMMARY_TABLE,
    RUNNING_BUILDS_TABLE,
    'typeorm_metadata',
    dataSource.options.cache && typeof dataSource.options.cache === 'object' && 'tableName' in dataSource.options.cache
      ? String(dataSource.options.cache.tableName)
      : 'query-result-cache',
  ]);
}
