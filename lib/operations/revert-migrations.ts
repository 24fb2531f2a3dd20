import { MigrationExecutor } from 'typeorm';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { MigrationFailedError } from '../errors/migration-failed.error.js';
import type { DataSourceMigrationRunner } from '../runner/data-source-migration.runner.js';
import { listNames } from '../util/name-list.js';
import { readMigrationStatus, type AppliedMigration } from '../history/migration-status.js';
import { declaredTransaction, knownMigrations } from '../typeorm/migration-internals.js';
import { commitsDdlImplicitly, StartedMarkers, unfinishedAdvice } from '../history/started-migrations.js';

/** What `down` did to one DataSource. */
export interface RevertResult {
  readonly dataSource: string;
  /** Set when a tenant's migrations were reverted. */
  readonly tenant?: string;
  /** Reverted migrations, newest first. */
  readonly reverted: readonly string[];
  readonly durationMs: number;
}

/**
 * Reverts, newest first, every applied migration newer than `to` (a migration name, its 13-digit
 * timestamp, or 0 for all), each in its own transaction, holding the migration lock. A `to` that is
 * not an applied migration, or a migration to revert that this build does not have, fails before
 * anything is reverted.
 */
export async function revertMigrations(runner: DataSourceMigrationRunner, to: string | number): Promise<RevertResult> {
  const { dataSource } = runner.plan;
  const name = runner.name;
  const started = performance.now();
  return runner.withSession(async (queryRunner, beforeMigration) => {
    const status = await readMigrationStatus(dataSource, queryRunner);
    const applied = [...status.applied, ...status.unknown].sort((a, b) => a.order - b.order);
    const targetIndex = findTarget(runner.plan.label, applied, String(to));
    const toRevert = applied.slice(targetIndex + 1).reverse();
    const unknown = new Set(status.unknown.map((migration) => migration.name));
    const missing = toRevert.filter((migration) => unknown.has(migration.name));
    if (missing.length > 0) {
      throw new AutoMigratorConfigError(
        `${runner.plan.label}: cannot revert ${listNames(missing.map((m) => `"${m.name}"`))}: not in this build, so its down() is not available. Nothing was reverted.`,
      );
    }
    // A migration an earlier run started and never finished: nothing is reverted until it is resolved.
    const markers = new StartedMarkers(dataSource, queryRunner);
    await markers.assertNoneUnfinished(
      applied.map((migration) => migration.name),
      runner.plan.label,
      name,
      { clearFinished: runner.plan.lock !== undefined },
    );
    const instances = new Map(knownMigrations(dataSource).map((migration) => [migration.name, migration]));
    const ddlCommits = commitsDdlImplicitly(dataSource);
    const outsideTransaction = (entry: AppliedMigration) => declaredTransaction(instances.get(entry.name)!.instance) === false;
    if (ddlCommits || toRevert.some(outsideTransaction)) await markers.ensureTable();
    const executor = new MigrationExecutor(dataSource, queryRunner);
    const reverted: string[] = [];
    for (const [index, entry] of toRevert.entries()) {
      const migration = instances.get(entry.name)!;
      const inTransaction = !outsideTransaction(entry);
      // Where down() and its record cannot be atomic, the migration is first recorded as started
      // being reverted and no longer applied (together), and the marker goes when down() finished:
      // a down() that dies half-way leaves it pending with a marker, which the next run reports.
      const marked = ddlCommits || !inTransaction;
      const t0 = performance.now();
      try {
        if (inTransaction) await queryRunner.startTransaction();
        await beforeMigration(entry.name);
        if (marked) {
          // In its transaction (MySQL commits both before down()'s first DDL), else in one of their own.
          if (!inTransaction) await queryRunner.startTransaction();
          await markers.insert(entry.name, 'down', inTransaction ? 'each' : 'none');
          await executor.deleteMigration(migration);
          if (!inTransaction) await queryRunner.commitTransaction();
        }
        await migration.instance!.down(queryRunner);
        if (marked) await markers.remove(entry.name);
        else await executor.deleteMigration(migration);
        if (inTransaction) await queryRunner.commitTransaction();
      } catch (error) {
        if (queryRunner.isTransactionActive) await queryRunner.rollbackTransaction().catch(() => undefined);
        const left = marked ? await markers.find(entry.name) : undefined;
        const undone = !inTransaction
          ? `It ran without a transaction (transaction = false) and may be partially reverted.`
          : ddlCommits
            ? `Its transaction was rolled back, except DDL its down() ran before the error (MySQL/MariaDB commit DDL implicitly), which may have left it partially reverted.`
            : `Its transaction was rolled back: it stays applied.`;
        throw new MigrationFailedError(
          `${runner.plan.label}: reverting "${entry.name}" failed: ${error instanceof Error ? error.message : String(error)}. ${undone} ` +
            `${reverted.length} newer migration(s) were reverted before it and stay reverted: ${listNames(reverted)}.` +
            (left ? ` ${unfinishedAdvice(entry.name)}` : ''),
          name,
          entry.name,
          [],
          'each',
          { cause: error },
        );
      }
      reverted.push(entry.name);
      runner.report({
        type: 'migration-reverted',
        dataSource: name,
        migration: entry.name,
        durationMs: Math.round(performance.now() - t0),
        index: index + 1,
        total: toRevert.length,
      });
    }
    runner.logger.log(
      `${runner.plan.label}: ${reverted.length} migration(s) reverted; now at ${targetIndex >= 0 ? applied[targetIndex]!.name : 'nothing applied'}`,
    );
    return { dataSource: runner.plan.tenant?.parent ?? name, reverted, durationMs: Math.round(performance.now() - started) };
  });
}

function findTarget(label: string, applied: readonly AppliedMigration[], to: string): number {
  if (to === '0') return -1;
  const index = applied.findIndex((migration) => migration.name === to || String(migration.timestamp) === to);
  if (index < 0) {
    throw new AutoMigratorConfigError(
      `${label}: --to "${to}" is not an applied migration (give its name or 13-digit timestamp, or 0 to revert all). ` +
        `Applied: ${listNames(applied.map((migration) => migration.name))}. Nothing was reverted.`,
    );
  }
  return index;
}
