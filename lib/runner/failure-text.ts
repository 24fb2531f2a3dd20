import { commitsDdlImplicitly, unfinishedAdvice } from '../history/started-migrations.js';
import type { DataSourcePlan } from '../plan/migration-plan.js';
import { databaseErrorCode } from '../util/error-chain.js';
import { plural } from '../util/quantities.js';
import type { SecretRedactor } from '../util/secret-redactor.js';

/**
 * The error's message (redacted), with what it means where that is not obvious: which timeout
 * option fired, and which host could not be reached.
 */
export function describeFailure(plan: DataSourcePlan, redactor: SecretRedactor, error: unknown, stopped: boolean): string {
  const message = redactor.message(error);
  const code = databaseErrorCode(error);
  const timeouts = plan.timeouts;
  if ((code === '55P03' || code === 1205 || code === 'ER_LOCK_WAIT_TIMEOUT') && timeouts.lockTimeoutMs !== undefined) {
    return `${message} (waited longer than migrationTimeouts.lockTimeoutMs = ${timeouts.lockTimeoutMs} ms for a lock another session holds)`;
  }
  if ((code === '57014' || code === 1969 || code === 'ER_STATEMENT_TIMEOUT') && timeouts.statementTimeoutMs !== undefined && !stopped) {
    return `${message} (a statement ran longer than migrationTimeouts.statementTimeoutMs = ${timeouts.statementTimeoutMs} ms)`;
  }
  const host = hostOf(plan);
  if (host && /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|ECONNRESET|connect|terminat/i.test(message) && !message.includes(host)) {
    return `${message} (database at ${host})`;
  }
  return message;
}

/** `host:port` of the plan's database, as its options say (no credentials). */
export function hostOf(plan: DataSourcePlan): string | undefined {
  const options = plan.dataSource.options as { url?: string; host?: string; port?: number };
  if (options.url) {
    try {
      return new URL(options.url).host || undefined;
    } catch {
      return undefined;
    }
  }
  return options.host ? `${options.host}${options.port ? `:${options.port}` : ''}` : undefined;
}

/** After a migration failed: what of this run stays applied, by transaction mode and database. */
export function whatWasKept(
  plan: DataSourcePlan,
  appliedBefore: number,
  dirtyMigration: string | undefined,
): { text: string; rolledBackAll: boolean } {
  const mode = plan.transaction;
  const before = plural(appliedBefore, 'migration');
  const ddlCommits = commitsDdlImplicitly(plan.dataSource);
  // Under 'all', a rollback undoes the run only where DDL is transactional.
  const rolledBackAll = mode === 'all' && !ddlCommits;
  let text: string;
  if (rolledBackAll) {
    text = `Transaction mode 'all': the ${before} applied before it in this run were rolled back; nothing of this run was kept.`;
  } else if (mode === 'all') {
    text =
      `Transaction mode 'all' cannot undo this on MySQL/MariaDB, which commit DDL statements implicitly: ` +
      `the ${before} applied before it in this run may stay applied and recorded, as may DDL the failed one ran. Check the migrations table before retrying.`;
  } else if (mode === 'each') {
    text =
      `Transaction mode 'each': the failed one was rolled back` +
      (ddlCommits ? `, except DDL it ran before the error (MySQL/MariaDB commit DDL implicitly)` : '') +
      `; everything applied before it stays applied (${thisRun(appliedBefore)}).`;
  } else {
    text =
      `Transaction mode 'none': the failed one ran without a transaction and may be partially applied; ` +
      `everything applied before it stays applied (${thisRun(appliedBefore)}).`;
  }
  if (dirtyMigration !== undefined) text += ` ${unfinishedAdvice(dirtyMigration)}`;
  return { text, rolledBackAll };
}

/** Why the run stopped on shutdown, what became of the migration in flight, and what the next boot does. */
export function interruptionText(
  plan: DataSourcePlan,
  reason: string,
  migration: string | undefined,
  appliedBefore: number,
  leftDirty: boolean,
): string {
  return (
    `${plan.label}: migrations interrupted by ${reason}` +
    (!migration
      ? ' before the next migration'
      : leftDirty
        ? `: "${migration}" did not complete`
        : `: "${migration}" did not complete and was rolled back`) +
    (appliedBefore > 0 ? `; the ${plural(appliedBefore, 'migration')} this run applied before it stay applied` : '') +
    (plan.transaction === 'none' && migration && !leftDirty ? ` (transaction mode 'none': "${migration}" may be partially applied)` : '') +
    (leftDirty ? `. ${unfinishedAdvice(migration!)}` : '. The next boot continues.')
  );
}

/** How many of what stays applied this run applied: the rest was applied by earlier runs. */
function thisRun(appliedBefore: number): string {
  return appliedBefore === 0 ? 'none of it by this run' : `${plural(appliedBefore, 'migration')} of it by this run`;
}
