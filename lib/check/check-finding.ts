import type { ObservedLock } from './shadow/observed-locks.js';
import type { StatementActions } from './sql/statement-actions.js';
import type { TableFacts } from './table-facts.js';

/** The rules `check` applies: each is defined in rules/ (see rules/registry.ts), with its safe rewrite. */
export type CheckRule = LockRule | CompatibilityRule | DataRule | SchemaRule;

/** A statement that builds on what the live schema holds in a state it cannot use (an INVALID index). */
export type SchemaRule = 'invalid-index';

/** A statement that will fail on the rows the live table holds now. */
export type DataRule = 'fails-on-data';

/** Locks that stall the running release on a live table, graded by its size. */
export type LockRule =
  | 'blocking-index'
  | 'blocking-lock'
  | 'unvalidated-constraint'
  | 'table-rewrite'
  | 'set-not-null-scan'
  | 'no-lock-timeout'
  | 'long-held-lock';

/** Changes that break what the previous release still maps (from its snapshot). */
export type CompatibilityRule =
  | 'drop-table'
  | 'drop-column'
  | 'rename-table'
  | 'rename-column'
  | 'change-column-type'
  | 'add-not-null'
  | 'drop-default'
  | 'add-constraint';

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
  /** Declared deliberate by its migration (`static acceptedFindings`): shown, and never fails the check. */
  readonly accepted?: { readonly reason: string };
}

/** Whether a finding fails `check` (and the boot with `deployCheck: 'fail'`): an error nobody accepted. */
export function isFailing(finding: CheckFinding): boolean {
  return finding.severity === 'error' && finding.accepted === undefined;
}

/** A pending migration the check could not look at, and why: never counted as safe. */
export interface UncheckedMigration {
  readonly migration: string;
  readonly reason: string;
}

/** One statement of a pending migration, as the dry run recorded it and the parser read it. */
export interface CheckedStatement extends StatementActions {
  readonly migration: string;
  readonly sql: string;
  /** What the statement locked and rewrote in the shadow (PostgreSQL's own answer), when it ran in one. */
  readonly locks?: readonly ObservedLock[];
  /**
   * Which transaction of the real run it will run in (statements with the same number share one,
   * and a lock is held to its end); undefined: committed on its own (`transaction = false`, mode 'none').
   */
  readonly transaction?: number;
}

/** What a rule says of one action: the finding without where it was found. */
export interface RuleVerdict {
  readonly rule: CheckRule;
  readonly severity: CheckSeverity;
  readonly message: string;
  readonly column?: string;
}

/**
 * A rule's verdict on `action` of `statement` (or on a lock the shadow saw it take: only its lock
 * matters here), on the live table `facts` describes, as a finding.
 */
export function findingOf(
  statement: CheckedStatement,
  action: { readonly lock: string },
  facts: TableFacts,
  verdict: RuleVerdict,
): CheckFinding {
  return {
    rule: verdict.rule,
    severity: verdict.severity,
    migration: statement.migration,
    statement: statement.sql,
    table: facts.qualified,
    ...(verdict.column ? { column: verdict.column } : {}),
    lock: action.lock,
    message: `${statement.migration}: ${verdict.message}`,
  };
}
