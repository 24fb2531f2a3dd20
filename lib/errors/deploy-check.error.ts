import { listNames } from '../util/name-list.js';
import { AutoMigratorError } from './auto-migrator.error.js';

/** A finding that refused the migrations (see `check`; its fields, as `check --json` gives them). */
export interface RefusingFinding {
  readonly rule: string;
  readonly migration: string;
  readonly table: string;
  readonly column?: string;
  readonly message: string;
}

/**
 * With `deployCheck: 'fail'`: the pending migrations would break or stall the running release
 * (error-level findings of `check` that no migration accepts), so none of them ran.
 */
export class DeployCheckError extends AutoMigratorError {
  override readonly name = 'DeployCheckError';

  constructor(
    label: string,
    readonly dataSource: string,
    /** Every finding that refused them (the message shows the first few). */
    readonly findings: readonly RefusingFinding[],
  ) {
    super(
      `${label}: the deploy check refused the pending migrations (deployCheck: 'fail'), nothing ran: ` +
        `${listNames(findings.map((finding) => `${finding.rule} in ${finding.migration} on ${finding.table}${finding.column ? `."${finding.column}"` : ''}`))}. ` +
        `${findings[0]?.message ?? ''} Fix the migrations, or accept a finding deliberately with the migration's static acceptedFindings ({ rule, reason }).`,
    );
  }
}
