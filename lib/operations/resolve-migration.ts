import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import type { DataSourceMigrationRunner } from '../runner/data-source-migration.runner.js';
import { readMigrationHistory, readRecordedNames } from '../history/migration-status.js';
import { MigrationRecords } from '../typeorm/observed-migration-executor.js';
import { knownMigrations } from '../typeorm/migration-internals.js';
import { describeStarted, StartedMarkers } from '../history/started-migrations.js';
import { ChecksumTable } from '../history/migration-checksums.js';
import type { StartedMigration } from '../contracts/migration-records.js';
import type { Migration } from 'typeorm';
import { buildChecksum } from '../plan/migration-checksum.js';

/**
 * How an operator resolves a migration: one started and never finished ended `applied` or
 * `not-applied` (after repairing the schema); or an applied one edited since it ran is accepted as
 * it is now (`change-accepted`).
 */
export type ResolvedAs = 'applied' | 'not-applied' | 'change-accepted';

/** What `resolve` did to one DataSource. */
export interface ResolveResult {
  readonly dataSource: string;
  readonly migration: string;
  /**
   * `applied`: now recorded as applied; `not-applied`: not recorded, it runs again on the next `up`;
   * `change-accepted`: this build's checksum of it is recorded.
   */
  readonly resolvedAs: ResolvedAs;
  /** `applied` / `not-applied`: the started marker that was removed: when and by whom the migration had been started. */
  readonly started?: StartedMigration;
  /** `change-accepted`: the checksum recorded before (none where none was), and the one recorded now. */
  readonly checksum?: { readonly previous?: string; readonly accepted: string };
  /** `change-accepted` with `tenants`: the tenants whose checksum of it was recorded, and those that do not have it applied. */
  readonly tenants?: { readonly accepted: readonly string[]; readonly notApplied: readonly string[] };
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
  if (as === 'change-accepted') return (await acceptChange(runner, migration, false))!;
  return runner.withSession(
    async (queryRunner) => {
      const markers = new StartedMarkers(dataSource, queryRunner);
      const started = await markers.read();
      const target = findMigration(runner, migration);
      const marker = target && started.find((candidate) => candidate.name === target.name);
      if (!target || !marker) {
        const list =
          started.length > 0 ? `Recorded as started: ${started.map(describeStarted).join('; ')}.` : 'No migration is recorded as started.';
        throw new AutoMigratorConfigError(
          `${label}: cannot resolve "${migration}": ${target ? 'it is not recorded as started' : 'no migration of this build has that name or timestamp'}. ${list} Nothing was changed.`,
        );
      }
      const recorded = (await readRecordedNames(dataSource, queryRunner)).includes(target.name);
      const records = new MigrationRecords(dataSource, queryRunner);
      const checksums = new ChecksumTable(dataSource, queryRunner);
      // Before the transaction: DDL would commit it on MySQL/MariaDB.
      await checksums.ensure();
      await queryRunner.startTransaction();
      try {
        if (as === 'applied' && !recorded) await records.insert(target);
        if (as === 'applied') await checksums.record([target.name], 'applied');
        if (as === 'not-applied' && recorded) await records.delete(target);
        if (as === 'not-applied') await checksums.remove(target.name);
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

/** The migration of this build named `migration` (its name or 13-digit timestamp), if any. */
function findMigration(runner: DataSourceMigrationRunner, migration: string): Migration | undefined {
  return knownMigrations(runner.plan.dataSource).find((known) => known.name === migration || String(known.timestamp) === migration);
}

/**
 * Accepts the edit of an applied migration (see ChangedMigration): records this build's checksum
 * of it, holding the migration lock without waiting for it (refused while a run holds it). A
 * migration that is not in this build, or not applied, changes nothing: an error, or with
 * `notAppliedIsFine` (a tenant among many) undefined when it is not applied.
 */
export async function acceptChange(
  runner: DataSourceMigrationRunner,
  migration: string,
  notAppliedIsFine: boolean,
): Promise<ResolveResult | undefined> {
  const { dataSource, label } = runner.plan;
  return runner.withSession(
    async (queryRunner) => {
      const target = findMigration(runner, migration);
      const read = await readMigrationHistory(dataSource, queryRunner);
      if (target && notAppliedIsFine && !read.recorded.includes(target.name)) return undefined;
      if (!target || !read.recorded.includes(target.name)) {
        throw new AutoMigratorConfigError(
          `${label}: cannot accept a change of "${migration}": ${target ? 'it is not applied (it runs on the next up, as it is now)' : 'no migration of this build has that name or timestamp'}. Nothing was changed.`,
        );
      }
      const changed = read.status.changed.find((entry) => entry.name === target.name);
      const checksums = new ChecksumTable(dataSource, queryRunner);
      const accepted = buildChecksum(target.instance!)?.checksum();
      if (accepted === undefined) {
        throw new AutoMigratorConfigError(`${label}: "${target.name}" has no up() source to take a checksum of. Nothing was changed.`);
      }
      await checksums.ensure(read.checksumsTable);
      await checksums.record([target.name], 'accepted');
      runner.logger.log(
        `${label}: "${target.name}" accepted as this build has it: its checksum is recorded` +
          (changed
            ? ` (it differed from the one recorded ${changed.recordedAs === 'applied' ? 'when it was applied' : `as a ${changed.recordedAs} checksum`} at ${changed.recordedAt.toISOString()})`
            : ' (it had not changed)'),
      );
      return {
        dataSource: runner.plan.dataSourceName,
        migration: target.name,
        resolvedAs: 'change-accepted',
        checksum: { ...(changed ? { previous: changed.recorded } : {}), accepted },
      };
    },
    { noWait: 'resolve' },
  );
}
