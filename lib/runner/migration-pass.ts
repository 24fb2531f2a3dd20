import type { QueryRunner } from 'typeorm';
import type { StartedMigration } from '../contracts/migration-records.js';
import type { MigrationRunResult } from '../contracts/migration-strategy.js';
import { MigrationDirtyError } from '../errors/migration-dirty.error.js';
import { MigrationFailedError } from '../errors/migration-failed.error.js';
import { MigrationInterruptedError } from '../errors/migration-interrupted.error.js';
import { logDetail } from '../events/migration-log.js';
import { ChecksumTable, readRecordedRows, type RecordedRows } from '../history/migration-checksums.js';
import { compareWithBuild, type MigrationHistoryRead } from '../history/migration-status.js';
import { migrationsTableName, tableExists } from '../history/migrations-table.js';
import { commitsDdlImplicitly, StartedMarkers, startedTableName } from '../history/started-migrations.js';
import { buildMigrations, timestampOf } from '../plan/build-migrations.js';
import type { DataSourcePlan } from '../plan/migration-plan.js';
import { declaredTransaction } from '../typeorm/migration-internals.js';
import { ObservedMigrationExecutor, type MigrationObserver } from '../typeorm/observed-migration-executor.js';
import { describeCauses } from '../util/error-chain.js';
import { ms, plural } from '../util/quantities.js';
import { hostOf, whatWasKept } from './failure-text.js';
import type { MigrationGuard } from './locked-session.js';
import { MigrationSession } from './migration-session.js';
import type { RunReporter } from './run-reporter.js';
import type { RunnerEnvironment } from './runner-environment.js';

/** Where a pass keeps what it applied and kept, as it goes (what `data-source-done` reports). */
export interface AppliedRecord {
  applied: readonly string[];
}

/** What one pass is asked to do. */
export interface PassRequest {
  /** Drop every table first (dropAndMigrate). */
  readonly fromScratch: boolean;
  /** What was read on this very session when its lock was claimed: the executor goes on from it instead of reading again. */
  readonly read: MigrationHistoryRead | undefined;
  /** The tables were missing when read before the lock (a new tenant): the read under it asks the catalog first. */
  readonly askFirst?: boolean;
  /** When the attempt started (performance.now()), for its duration. */
  readonly runStart: number;
  readonly record: AppliedRecord;
}

/**
 * One pass of TypeORM's MigrationExecutor over what is pending, on the migration session holding
 * the lock. It observes the executor (see MigrationObserver): reads what is recorded once, stops an
 * earlier run's unfinished migration, records a migration as started where it cannot be atomic
 * with its record, and reports each migration as it starts and once it is applied.
 */
export class MigrationPass implements MigrationObserver {
  private readonly appliedNow: string[] = [];
  /** Applied by this pass, their checksums not recorded yet (MySQL/MariaDB, SQLite: one statement at the end). */
  private readonly checksumsToRecord: string[] = [];
  /** Migrations pending when the executor read the table. */
  private total = 0;
  /** The migration running now, since when. */
  private current: { readonly name: string; readonly startedAt: number } | undefined;
  /** The migration the run's marker row names now (one row, moved from migration to migration). */
  private marked: string | undefined;
  /** The read under the lock made when the migrations table was looked for (see migrationsTableExists). */
  private lockedRead: RecordedRows | undefined;
  private readonly markers: StartedMarkers;
  private readonly checksums: ChecksumTable;

  constructor(
    private readonly plan: DataSourcePlan,
    private readonly env: RunnerEnvironment,
    private readonly reporter: RunReporter,
    private readonly queryRunner: QueryRunner,
    private readonly beforeMigration: MigrationGuard,
    private readonly request: PassRequest,
  ) {
    this.markers = new StartedMarkers(plan.dataSource, queryRunner);
    this.checksums = new ChecksumTable(plan.dataSource, queryRunner);
    request.record.applied = this.appliedNow;
  }

  async run(): Promise<MigrationRunResult> {
    if (this.request.fromScratch) {
      this.env.logger.warn(`${this.plan.label}: dropping every table before migrating from scratch`);
      await this.plan.dataSource.dropDatabase();
    }
    const executor = new ObservedMigrationExecutor(this.plan.dataSource, this.queryRunner, this);
    executor.transaction = this.plan.transaction;
    try {
      await executor.executePendingMigrations();
    } catch (error) {
      throw await this.failed(error);
    }
    if (this.total === 0)
      return nothingLeft(this.plan, this.env, this.request.runStart, 'no pending migrations left; another process applied them');
    await this.recordChecksums();
    // Every migration of the run is recorded: the marker (naming the last one) has nothing left to say.
    if (this.marked !== undefined) await this.markers.remove(this.marked);
    const durationMs = Math.round(performance.now() - this.request.runStart);
    this.env.logger.log(`${this.plan.label}: ${plural(this.appliedNow.length, 'migration')} applied in ${ms(durationMs)}`);
    return { applied: this.appliedNow, durationMs };
  }

  async migrationsTableExists(runner: QueryRunner): Promise<boolean> {
    const { read } = this.request;
    // What the read made under the lock found: the table missing, or rows in it.
    if (read?.noMigrationsTable) return false;
    if (read !== undefined && read.recorded.length > 0) return true;
    const { dataSource } = this.plan;
    if (this.request.askFirst && read === undefined) {
      // Likely missing (the first read found no table): the read under the lock asks the catalog
      // now, in one statement, and recorded() goes on from it (the table this pass then creates is
      // empty), instead of a question here and the catalog's and the table's read there.
      this.lockedRead = await readRecordedRows(dataSource, runner, { askFirst: true, beside: startedTableName(dataSource) });
      return this.lockedRead.noMigrationsTable !== true;
    }
    return tableExists(dataSource, runner, migrationsTableName(dataSource));
  }

  /** The only read under the lock: one plain SELECT (or the one made when the lock was claimed), and what it leaves pending. */
  async recorded(runner: QueryRunner): Promise<Array<{ name: string; timestamp: number }>> {
    const { read } = this.request;
    const { dataSource, label } = this.plan;
    const rows = read
      ? undefined
      : (this.lockedRead ??
        (await readRecordedRows(dataSource, runner, { askFirst: this.request.askFirst, beside: startedTableName(dataSource) })));
    const recorded = read ? [...read.recorded] : rows!.rows.map((row) => String(row['name']));
    this.total = compareWithBuild(buildMigrations(dataSource.migrations, label), recorded).pending.length;
    if (this.total > 0) {
      // Before anything runs: a migration an earlier run started and never finished stops it.
      // Without the lock (lock: false) another run's markers are not ours to clear: it may hold them.
      // None to look at where the read under the claim counted none, or the catalog has no table of them.
      if (read ? read.markers > 0 : !rows!.besideMissing) {
        await this.markers.assertNoneUnfinished(recorded, label, this.plan.name, { clearFinished: this.plan.lock !== undefined });
      }
      if (this.mayNeedMarkers()) await this.markers.ensureTable();
    }
    // Each migration applied gets its checksum recorded with it (see recordApplied).
    if (this.total > 0) await this.checksums.ensure((read ?? rows!).checksumsTable);
    return recorded.map((name) => ({ name, timestamp: timestampOf(name) }));
  }

  async started(name: string): Promise<void> {
    // Stop between migrations: throwing here, before up(), rolls back only the empty transaction.
    if (this.env.control.stopped) throw this.reporter.interrupted(undefined, this.appliedNow.length);
    this.current = { name, startedAt: performance.now() };
    // Where the migration and its record cannot be atomic, it is recorded as started first. In its
    // transaction, if it has one: committed exactly when anything of it is (MySQL commits before its
    // first DDL), rolled back with it otherwise. One statement per migration: the row moves on from
    // the previous migration, which its record in the migrations table already says finished.
    if (commitsDdlImplicitly(this.plan.dataSource) || !this.queryRunner.isTransactionActive) {
      await this.beforeMigration(name, async (lockHeld) => {
        const written = await this.markers.record(this.marked, name, this.plan.transaction, lockHeld);
        if (written) this.marked = name;
        return written;
      });
    } else {
      await this.beforeMigration(name);
    }
    const index = this.appliedNow.length + 1;
    this.reporter.report({ type: 'migration-started', dataSource: this.plan.name, migration: name, index, total: this.total });
  }

  /**
   * The checksums of what this pass applied (MySQL/MariaDB, SQLite), once it succeeded. The
   * migrations are applied whatever happens here: a failure is a warning, and the next run records
   * this build's checksums as their baseline.
   */
  private async recordChecksums(): Promise<void> {
    try {
      await this.checksums.record(this.checksumsToRecord, 'applied');
    } catch (error) {
      this.env.redactor.scrub(error);
      this.env.logger.warn(
        `${this.plan.label}: could not record the checksums of the migrations applied (${this.reporter.describe(error)}); the next run records them as a baseline`,
      );
    }
  }

  /**
   * TypeORM's record of a migration, in its transaction, and its checksum as this build has it:
   * PostgreSQL, in the same statement; elsewhere all the pass's checksums in one statement once it
   * succeeded (a statement per migration cost 15-35% of a 200-migration run there). A run that
   * fails leaves the ones it applied without a checksum: the next run records its build's as their
   * baseline.
   */
  async recordApplied(migration: { readonly name: string; readonly timestamp: number }, insertRecord: () => Promise<void>): Promise<void> {
    if (this.plan.dataSource.options.type === 'postgres') {
      await this.checksums.recordWithMigration(migration);
      return;
    }
    await insertRecord();
    this.checksumsToRecord.push(migration.name);
  }

  applied(name: string): void {
    this.appliedNow.push(name);
    const durationMs = this.current ? Math.round(performance.now() - this.current.startedAt) : 0;
    this.current = undefined;
    const index = this.appliedNow.length;
    this.reporter.report({ type: 'migration-finished', dataSource: this.plan.name, migration: name, durationMs, index, total: this.total });
  }

  /** What the executor's failure becomes: reported once, with what of the run was kept and any marker left behind. */
  private async failed(error: unknown): Promise<Error> {
    if (error instanceof MigrationInterruptedError) return error;
    if (error instanceof MigrationDirtyError) {
      const first = error.started[0]!;
      return this.reporter.fail({ error, migration: first.name, dirty: first, mayBePartiallyApplied: true });
    }
    const migration = this.current?.name;
    // A marker that outlived the rollback: the migration committed part of its work.
    const left = migration !== undefined && this.marked === migration ? await this.markers.find(migration) : undefined;
    if (this.env.control.stopped) return this.reporter.interrupted(migration, this.appliedNow.length, error, left);
    const cause = MigrationSession.connectionLost(this.queryRunner, this.plan.name, hostOf(this.plan), error) ?? error;
    return this.runFailed(cause, migration, left);
  }

  private runFailed(error: unknown, migration: string | undefined, left: StartedMigration | undefined): MigrationFailedError {
    this.env.redactor.scrub(error);
    const where = migration ? `migration "${migration}" failed` : 'migrations failed';
    const kept = whatWasKept(this.plan, this.appliedNow.length, left ? migration : undefined);
    const keptApplied = kept.rolledBackAll ? [] : [...this.appliedNow];
    this.request.record.applied = keptApplied;
    const message = `${this.plan.label}: ${where}: ${this.reporter.describe(error)}. ${kept.text}`;
    const failure = new MigrationFailedError(message, this.plan.name, migration, keptApplied, this.plan.transaction, { cause: error });
    // One line with the cause chain; the stack is printed once, by whoever receives the rethrown error.
    const causes = describeCauses(failure);
    return this.reporter.fail({
      error: failure,
      migration,
      applied: keptApplied,
      mayBePartiallyApplied: (this.plan.transaction === 'none' && migration !== undefined) || left !== undefined,
      dirty: left,
      line: causes ? `${failure.message} (${causes})` : failure.message,
    });
  }

  /**
   * Whether a migration of this run may be recorded as started: where DDL commits implicitly, or
   * where a migration runs without a transaction. Elsewhere no marker table is created.
   */
  private mayNeedMarkers(): boolean {
    return (
      commitsDdlImplicitly(this.plan.dataSource) ||
      this.plan.transaction === 'none' ||
      this.plan.dataSource.migrations.some((migration) => declaredTransaction(migration) === false)
    );
  }
}

/** An attempt that found nothing to apply: said at the plan's detail level. */
export function nothingLeft(plan: DataSourcePlan, env: RunnerEnvironment, runStart: number, why: string): MigrationRunResult {
  logDetail(env.logger, plan, `${plan.label}: ${why}`);
  return { applied: [], durationMs: Math.round(performance.now() - runStart) };
}
