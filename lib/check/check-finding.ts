/** The rules `check` applies; see docs/rolling-deploys.md for each one's safe rewrite. */
export type CheckRule = 'blocking-index' | 'unvalidated-constraint' | 'table-rewrite' | 'set-not-null-scan' | 'no-lock-timeout';

/** `error` fails `check` (exit 1); `warning` is reported only. */
export type CheckSeverity = 'error' | 'warning';

/** One thing a pending migration would do that can break or stall the running release. */
export interface CheckFinding {
  readonly rule: CheckRule;
  readonly severity: CheckSeverity;
  readonly migration: string;
  /** The statement as the dry run recorded it (redacted). */
  readonly statement: string;
  /** The table as the catalog names it (schema-qualified). */
  readonly table: string;
  readonly column?: string;
  /** The table lock the statement takes. */
  readonly lock?: string;
  /** What happens, how big the table is, and the safe alternative. */
  readonly message: string;
}

/** A pending migration the check could not look at, and why: never counted as safe. */
export interface UncheckedMigration {
  readonly migration: string;
  readonly reason: string;
}
