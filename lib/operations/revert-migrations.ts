import type { Migration, QueryRunner } from 'typeorm';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { MigrationFailedError } from '../errors/migration-failed.error.js';
import type { MigrationGuard } from '../runner/locked-session.js';
import type { DataSourceMigrationRunner } from '../runner/data-source-migration.runner.js';
import { listNames } from '../util/name-list.js';
import { readMigrationStatus, type AppliedMigration, type MigrationStatusReport } from '../history/migration-status.js';
import { declaredTransaction, knownMigrations } from '../typeorm/migration-internals.js';
import { MigrationRecords } from '../typeorm/observed-migration-executor.js';
import { commitsDdlImplicitly, StartedMarkers, unfinishedAdvice } from '../history/started-migrations.js';
import { ChecksumTable, checksumsTableName } from '../history/migration-checksums.js';
import { tableExists } from '../history/migrations-table.js';

/** What `down` did to one DataSource. */
export interface RevertResult {
  readonly dataSource: string;
  /** Set when a tenant's migrations were reverted. */
  readonly tenant?: string;
  /** Reverted migrations, newest first. */
  readonly reverted: readonly string[];
  readonly durationMs: number;
}

/** What a `down` to `to` reverts, newest first, and what is applied after it. */
export interface RevertPlan {
  readonly toRevert: readonly AppliedMigration[];
  /** The migration the history ends at afterwards; undefined: nothing applied. */
  readonly target: AppliedMigration | undefined;
}

/**
 * Reverts, newest first, every applied migration newer than `to` (a migration name, its 13-digit
 * timestamp, or 0 for all), each in its own transaction, holding the migration lock. A `to` that is
 * not an applied migration, or a migration to revert that this build does not have, fails before
 * anything is reverted. Each reverted migration is a `migration-reverted` event.
 */
export async function revertMigrations(runner: DataSourceMigrationRunner, to: string | number): Promise<RevertResult> {
  const started = performance.now();
  const { dataSource, label } = runner.plan;
  return runner.withSession(async (queryRunner, beforeMigration) => {
    const status = await readMigrationStatus(dataSource, queryRunner);
    const plan = planRevert(label, status, String(to));
    // A migration an earlier run started and never finished: nothing is reverted until it is resolved.
    const markers = new StartedMarkers(dataSource, queryRunner);
    const applied = [...status.applied, ...status.unknown].map((migration) => migration.name);
    await markers.assertNoneUnfinished(applied, label, runner.name, { clearFinished: runner.plan.lock !== undefined });
    const reverted = await new RevertPass(runner, queryRunner, beforeMigration, markers).run(plan.toRevert);
    runner.logger.log(`${label}: ${reverted.length} migration(s) reverted; now at ${plan.target?.name ?? 'nothing applied'}`);
    return { dataSource: runner.plan.dataSourceName, reverted, durationMs: Math.round(performance.now() - started) };
  });
}

/**
 * What reverting to `to` (a name, a 13-digit timestamp, or '0' for all) reverts: every applied
 * migration newer than it, newest first. Fails, naming what to give, when `to` is not applied or a
 * migration to revert is not in this build (its down() is not available). Pure.
 */
export function planRevert(label: string, status: Pick<MigrationStatusReport, 'applied' | 'unknown'>, to: string): RevertPlan {
  const applied = [...status.applied, ...status.unknown].sort((a, b) => a.order - b.order);
  const targetIndex = to === '0' ? -1 : applied.findIndex((migration) => migration.name === to || String(migration.timestamp) === to);
  if (to !== '0' && targetIndex < 0) {
    throw new AutoMigratorConfigError(
      `${label}: --to "${to}" is not an applied migration (give its name or 13-digit timestamp, or 0 to revert all). ` +
        `Applied: ${listNames(applied.map((migration) => migration.name))}. Nothing was reverted.`,
    );
  }
  const toRevert = applied.slice(targetIndex + 1).reverse();
  const unknown = new Set(status.unknown.map((migration) => migration.name));
  const missing = toRevert.filter((migration) => unknown.has(migration.name));
  if (missing.length > 0) {
    throw new AutoMigratorConfigError(
      `${label}: cannot revert ${listNames(missing.map((m) => `"${m.name}"`))}: not in this build, so its down() is not available. Nothing was reverted.`,
    );
  }
  return { toRevert, target: applied[targetIndex] };
}

/** Reverting migrations one by one on the locked session: each down() with its record (and marker), as one step. */
class RevertPass {
  private readonly reverted: string[] = [];
  private readonly instances: Map<string, Migration>;
  private readonly records: MigrationRecords;
  private readonly checksums: ChecksumTable;
  /** Whether checksums are recorded here: a reverted migration's goes with its record. */
  private hasChecksums = false;
  private readonly ddlCommits: boolean;

  constructor(
    private readonly runner: DataSourceMigrationRunner,
    private readonly queryRunner: QueryRunner,
    private readonly beforeMigration: MigrationGuard,
    private readonly markers: StartedMarkers,
  ) {
    const { dataSource } = runner.plan;
    this.instances = new Map(knownMigrations(dataSource).map((migration) => [migration.name, migration]));
    this.records = new MigrationRecords(dataSource, queryRunner);
    this.checksums = new ChecksumTable(dataSource, queryRunner);
    this.ddlCommits = commitsDdlImplicitly(dataSource);
  }

  async run(toRevert: readonly AppliedMigration[]): Promise<string[]> {
    const inTransaction = (entry: AppliedMigration) => declaredTransaction(this.instances.get(entry.name)!.instance) !== false;
    if (this.ddlCommits || !toRevert.every(inTransaction)) await this.markers.ensureTable();
    const { dataSource } = this.runner.plan;
    this.hasChecksums = toRevert.length > 0 && (await tableExists(dataSource, this.queryRunner, checksumsTableName(dataSource)));
    for (const [index, entry] of toRevert.entries()) {
      const t0 = performance.now();
      await this.revert(this.instances.get(entry.name)!, inTransaction(entry));
      this.reverted.push(entry.name);
      this.runner.report({
        type: 'migration-reverted',
        dataSource: this.runner.name,
        migration: entry.name,
        durationMs: Math.round(performance.now() - t0),
        index: index + 1,
        total: toRevert.length,
      });
    }
    return this.reverted;
  }

  /**
   * Where down() and its record cannot be atomic, the migration is first recorded as started being
   * reverted and no longer applied (together), and the marker goes when down() finished: a down()
   * that dies half-way leaves it pending with a marker, which the next run reports.
   */
  private async revert(migration: Migration, inTransaction: boolean): Promise<void> {
    const { queryRunner } = this;
    const marked = this.ddlCommits || !inTransaction;
    try {
      if (inTransaction) await queryRunner.startTransaction();
      await this.beforeMigration(migration.name);
      if (marked) {
        // In its transaction (MySQL commits both before down()'s first DDL), else in one of their own.
        if (!inTransaction) await queryRunner.startTransaction();
        await this.markers.insert(migration.name, 'down', inTransaction ? 'each' : 'none');
        await this.unrecord(migration);
        if (!inTransaction) await queryRunner.commitTransaction();
      }
      await migration.instance!.down(queryRunner);
      if (marked) await this.markers.remove(migration.name);
      else await this.unrecord(migration);
      if (inTransaction) await queryRunner.commitTransaction();
    } catch (error) {
      if (queryRunner.isTransactionActive) await queryRunner.rollbackTransaction().catch(() => undefined);
      throw await this.failed(migration.name, inTransaction, marked, error);
    }
  }

  /** The migration is no longer recorded as applied, nor its checksum. */
  private async unrecord(migration: Migration): Promise<void> {
    await this.records.delete(migration);
    if (this.hasChecksums) await this.checksums.remove(migration.name);
  }

  private async failed(name: string, inTransaction: boolean, marked: boolean, error: unknown): Promise<MigrationFailedError> {
    const left = marked ? await this.markers.find(name) : undefined;
    const undone = !inTransaction
      ? `It ran without a transaction (transaction = false) and may be partially reverted.`
      : this.ddlCommits
        ? `Its transaction was rolled back, except DDL its down() ran before the error (MySQL/MariaDB commit DDL implicitly), which may have left it partially reverted.`
        : `Its transaction was rolled back: it stays applied.`;
    const { reverted } = this;
    return new MigrationFailedError(
      `${this.runner.plan.label}: reverting "${name}" failed: ${error instanceof Error ? error.message : String(error)}. ${undone} ` +
        `${reverted.length} newer migration(s) were reverted before it and stay reverted: ${listNames(reverted)}.` +
        (left ? ` ${unfinishedAdvice(name)}` : ''),
      this.runner.name,
      name,
      [],
      'each',
      { cause: error },
    );
  }
}
