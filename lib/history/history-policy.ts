import { MigrationHistoryError } from '../errors/migration-history.error.js';
import type { MigrationHistoryPolicy } from '../options/auto-migrator-options.interface.js';
import { listNames } from '../util/name-list.js';
import type { MigrationStatusReport } from './migration-status.js';

/** The history policies as they apply; {@link STRICT_HISTORY} makes each a refusal. */
export interface HistoryPolicies {
  readonly outOfOrder: MigrationHistoryPolicy;
  readonly unknownMigrations: MigrationHistoryPolicy;
  readonly changedMigrations: MigrationHistoryPolicy;
}

/** `--strict` (status, ensure-up): every way the table does not fit the build refuses, whatever the options say. */
export const STRICT_HISTORY: HistoryPolicies = Object.freeze({ outOfOrder: 'fail', unknownMigrations: 'fail', changedMigrations: 'fail' });

/** What the history policy says of a table: warnings to log, and the error when it refuses the table. */
export interface HistoryVerdict {
  readonly warnings: readonly string[];
  readonly error: MigrationHistoryError | undefined;
}

/**
 * Judges a pending migration older than the newest applied one (out of order), an applied one this
 * build lacks (unknown) and an applied one edited since it ran (changed) by the plan's policies: a
 * warning each by default, an error with 'fail'.
 */
export function judgeHistory(
  status: MigrationStatusReport,
  policy: HistoryPolicies,
  label: string,
  dataSource: string,
  /** A tenant's history: the accept command covers the tenants. */
  tenant = false,
): HistoryVerdict {
  const outOfOrder = status.outOfOrder.map((migration) => migration.name);
  const unknown = status.unknown.map((migration) => migration.name);
  const changed = status.changed.map((migration) => migration.name);
  const problems: string[] = [];
  const warnings: string[] = [];
  if (outOfOrder.length > 0) {
    const text = `pending but older than the newest applied migration (out of order): ${listNames(outOfOrder)}`;
    if (policy.outOfOrder === 'fail') problems.push(text);
    else warnings.push(`${label}: ${text}. They will run; set outOfOrder: 'fail' to refuse.`);
  }
  if (unknown.length > 0) {
    const text = `applied but not in this build (unknown): ${listNames(unknown)}`;
    if (policy.unknownMigrations === 'fail') problems.push(text);
    else warnings.push(`${label}: ${text}. Fine for backward-compatible migrations; set unknownMigrations: 'fail' to refuse.`);
  }
  if (changed.length > 0) {
    const text =
      `applied, and changed since (its up() differs from the one that ran): ${listNames(changed)}. ` +
      `Fresh databases and this one may differ: restore the migration as it ran and put the change in a new migration, ` +
      `or, if the edit changes nothing that ran, accept it: "auto-migrator resolve ${changed[0]} --accept-change${tenant ? ' --tenants --app <your app module>' : ''}"`;
    if (policy.changedMigrations === 'fail') problems.push(text);
    else warnings.push(`${label}: ${text}. Set changedMigrations: 'fail' to refuse.`);
  }
  const error =
    problems.length === 0
      ? undefined
      : new MigrationHistoryError(
          `${label}: the migrations table does not fit this build: ${problems.join('; ')}.`,
          dataSource,
          policy.outOfOrder === 'fail' ? outOfOrder : [],
          policy.unknownMigrations === 'fail' ? unknown : [],
          policy.changedMigrations === 'fail' ? changed : [],
        );
  return { warnings, error };
}
