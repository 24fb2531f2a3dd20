import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import type { DataSourceMigrationRunner } from '../runner/data-source-migration.runner.js';
import { readRecordedNames } from '../history/migration-status.js';
import { MigrationRecords } from '../typeorm/observed-migration-executor.js';
import { knownMigrations } from '../typeorm/migration-internals.js';
import { describeStarted, StartedMarkers } from '../history/started-migrations.js';
import type { StartedMigration } from '../contracts/migration-records.js';

/** How an operator says a started-but-unfinished migration ended, after repairing the schema. */
export type ResolvedAs = 'applied' | 'not-applied';

/** What `resolve` did to one DataSource. */
export interface ResolveResult {
  readonly dataSource: string;
  readonly migration: string;
  /** `applied`: now recorded as applied; `not-applied`: not recorded, it runs again on the next `up`. */
  readonly resolvedAs: ResolvedAs;
  /** The started marker that was removed: when and by whom the migration had been started. */
  readonly started: StartedMigration;
}

/**
 * Marks a migration recorded as started and never finished as applied (its row is inserted into
 * the migrations table, as TypeORM records it) or as not applied (its row, if any, is deleted),
 * and removes its marker, in one transaction, holding the migration lock. Does not wait for the
 * lock: while a migration run holds it, it refuses. A name that is not a migration of this build,
 * or not recorded as started, changes nothing.
 */
export async function resolveStartedMigration(
  runner: DataSourceMigrationRunner,
  migration: string,
  as: ResolvedAs,
): Promise<ResolveResult> {
  const { dataSource, label } = runner.plan;
  return runner.withSession(
    async (queryRunner) => {
      const markers = new StartedMarkers(dataSource, queryRunner);
      const started = await markers.read();
      const target = knownMigrations(dataSource).find((known) => known.name === migration || String(known.timestamp) === migration);
      const marker = target && started.find((candidate) => candidate.name === target.name);
      if (!target || !marker) {
        const list =
          started.length > 0 ? `Recorded as started: ${started.map(describeStarted).join('; ')}.` : 'No migration is recorded as started.';
        throw new AutoMigratorConfigError(
          `${label}: cannot resolve "${migration}": ${target ? 'it is not recorded as started' : 'no migration of this build has that name or timestamp'}. ${list} Nothing was changed.`,
        );
      }
      const recorded = (await readRecordedNames(dataSource, queryRunner)).includes(target.name);
      const records = new MigrationRecords(dataSource, queryRunner, (text) => runner.redactor.redact(text));
      await queryRunner.startTransaction();
      try {
        if (as === 'applied' && !recorded) await records.insert(target);
        if (as === 'not-applied' && recorded) await records.delete(target);
        await markers.remove(target.name);
        await queryRunner.commitTransaction();
      } catch (error) {
        await queryRunner.rollbackTransaction().catch(() => undefined);
        throw error;
      }
      runner.logger.log(
        `${label}: "${target.name}" resolved as ${as === 'applied' ? 'applied (recorded in the migrations table)' : 'not applied (it runs again on the next up)'} ` +
          `(started ${marker.operation === 'down' ? 'being reverted' : 'being applied'} at ${marker.startedAt.toISOString()} by ${marker.startedBy})`,
      );
      return { dataSource: runner.plan.dataSourceName, migration: target.name, resolvedAs: as, started: marker };
    },
    { noWait: 'resolve' },
  );
}
