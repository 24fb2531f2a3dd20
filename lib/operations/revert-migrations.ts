import { MigrationExecutor } from 'typeorm';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { MigrationFailedError } from '../errors/migration-failed.error.js';
import type { DataSourceMigrationRunner } from '../runner/data-source-migration.runner.js';
import { listNames } from '../util/name-list.js';
import { knownMigrations, readMigrationStatus, type AppliedMigration } from './migration-status.js';

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
    const instances = new Map(knownMigrations(dataSource).map((migration) => [migration.name, migration]));
    const executor = new MigrationExecutor(dataSource, queryRunner);
    const reverted: string[] = [];
    for (const [index, entry] of toRevert.entries()) {
      const migration = instances.get(entry.name)!;
      const inTransaction = migration.instance?.transaction !== false;
      const t0 = performance.now();
      try {
        if (inTransaction) await queryRunner.startTransaction();
        await beforeMigration(entry.name);
        await migration.instance!.down(queryRunner);
        await executor.deleteMigration(migration);
        if (inTransaction) await queryRunner.commitTransaction();
      } catch (error) {
        if (inTransaction && queryRunner.isTransactionActive) await queryRunner.rollbackTransaction().catch(() => undefined);
        throw new MigrationFailedError(
          `${runner.plan.label}: reverting "${entry.name}" failed: ${error instanceof Error ? error.message : String(error)}. ` +
            `${reverted.length} newer migration(s) were reverted before it and stay reverted: ${listNames(reverted)}.`,
          name,
          entry.name,
          [],
          'each',
          { cause: error },
        );
      }
      reverted.push(entry.name);
      runner.logger.log(
        `${runner.plan.label}: [${index + 1}/${toRevert.length}] ${entry.name} reverted in ${Math.round(performance.now() - t0)} ms`,
      );
    }
    runner.logger.log(`${runner.plan.label}: ${reverted.length} migration(s) reverted; now at ${targetIndex >= 0 ? applied[targetIndex]!.name : 'nothing applied'}`);
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
