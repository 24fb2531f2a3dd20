import { findingOf, type CheckedStatement, type CheckFinding, type RuleVerdict } from '../check-finding.js';
import { lockStrength, type ObservedLock } from '../shadow/observed-locks.js';
import { LOCK_BLOCKS, strongestLock, type LockMode, type TableAction, type TableName } from '../sql/statement-actions.js';
import { tableKey, type CatalogFacts, type TableFacts } from '../table-facts.js';
import { describeSize, severityBySize } from '../table-size.js';
import { blockingIndexVerdict } from './blocking-index.js';
import { blockingLockVerdict } from './blocking-lock.js';
import { longHeldLockVerdict } from './long-held-lock.js';
import { noLockTimeoutVerdict } from './no-lock-timeout.js';
import type { LiveAction } from './rule-definition.js';
import { setNotNullScanVerdict } from './set-not-null-scan.js';
import { observedRewriteVerdict, tableRewriteVerdict } from './table-rewrite.js';
import { unvalidatedConstraintVerdict } from './unvalidated-constraint.js';

export type { CheckedStatement } from '../check-finding.js';

/** What the rules know besides the statements. */
export interface LockRuleContext {
  readonly facts: CatalogFacts;
  /** Columns with a validated `CHECK (column IS NOT NULL)`, as `tableKey|column` of the catalog's qualified name. */
  readonly notNullChecked: ReadonlySet<string>;
  /** The run sets `lock_timeout` itself (`migrationTimeouts.lockTimeoutMs`). */
  readonly runLockTimeout: boolean;
}

/**
 * The lock hazards of the pending migrations on the live tables, graded by each table's size: a
 * table created by the pending migrations themselves (not in the catalog now) has none. Pure.
 */
export function lockFindings(statements: readonly CheckedStatement[], context: LockRuleContext): CheckFinding[] {
  const findings: CheckFinding[] = [];
  const timeoutIn = new Map<string, boolean>();
  const warnedTimeout = new Set<string>();
  const live = liveTables(statements, context.facts);
  const onLiveTables = live.map(({ actions }) => actions);
  const own = statements.map((statement, index) => {
    const onLive = onLiveTables[index]!;
    const found: CheckFinding[] = [];
    for (const action of onLive) {
      const facts = context.facts.tables.get(tableKey(action.table))!;
      const hazard = hazardOf(action, facts, context);
      if (hazard) found.push(findingOf(statement, action, facts, hazard));
    }
    found.push(...observedFindings(statement, onLive, found, context));
    return found;
  });
  const held = heldLockFindings(statements, live, own, context);
  for (const [index, statement] of statements.entries()) {
    if (statement.setsLockTimeout !== undefined) timeoutIn.set(statement.migration, statement.setsLockTimeout);
    const onLive = onLiveTables[index]!;
    findings.push(...own[index]!, ...(held.get(index) ?? []));
    const timeoutSet = context.runLockTimeout || timeoutIn.get(statement.migration) === true;
    if (timeoutSet || warnedTimeout.has(statement.migration)) continue;
    // The first ACCESS EXCLUSIVE on a live table, as the rules read it or as the shadow saw it (DROP INDEX).
    const action =
      strongestLock(onLive) === 'ACCESS EXCLUSIVE' ? onLive.find((candidate) => candidate.lock === 'ACCESS EXCLUSIVE') : undefined;
    const seen = (statement.locks ?? []).find(
      (lock) => !lock.created && lock.kind === 'table' && lock.mode === 'ACCESS EXCLUSIVE' && context.facts.tables.has(tableKey(lock)),
    );
    const facts = action ? context.facts.tables.get(tableKey(action.table)) : seen ? context.facts.tables.get(tableKey(seen)) : undefined;
    if (!facts) continue;
    warnedTimeout.add(statement.migration);
    const verdict = noLockTimeoutVerdict(facts.qualified);
    findings.push(findingOf(statement, action ?? { lock: 'ACCESS EXCLUSIVE' }, facts, verdict));
  }
  return findings;
}

/**
 * For each statement, its actions on live tables: on a table the catalog has now, and not on one the
 * pending migrations created, by name, as the shadow saw them create it (a table re-created under a
 * live table's name is the new one for the statements after it).
 */
export function liveActions(statements: readonly CheckedStatement[], facts: CatalogFacts): TableAction[][] {
  return liveTables(statements, facts).map(({ actions }) => actions);
}

/** For each statement, its actions on live tables (see {@link liveActions}) and the live tables it passes over row by row. */
function liveTables(
  statements: readonly CheckedStatement[],
  facts: CatalogFacts,
): Array<{ actions: TableAction[]; scans: NonNullable<CheckedStatement['scans']> }> {
  const created: ObservedLock[] = [];
  return statements.map((statement) => {
    const isLive = (table: TableName) => facts.tables.has(tableKey(table)) && !created.some((lock) => names(lock, table));
    const onLive = {
      actions: statement.actions.filter((action) => isLive(action.table)),
      scans: (statement.scans ?? []).filter((scan) => isLive(scan.table)),
    };
    created.push(...(statement.locks ?? []).filter((lock) => lock.created && lock.kind === 'table'));
    return onLive;
  });
}

/** The findings whose statement takes as long as its table is big, and what they make it do there. */
const SLOW_WORK: Partial<Record<CheckFinding['rule'], string>> = {
  'blocking-index': 'the index build on',
  'table-rewrite': 'the rewrite of',
  'unvalidated-constraint': 'the check of every row of',
  'set-not-null-scan': 'the scan of every row of',
};

/**
 * A lock of SHARE or stronger on a live table is held until its transaction ends: through every
 * statement after it in that transaction. Where a later statement there is slow (it builds, rewrites
 * or checks a big table, or an UPDATE goes through every row of one), the lock is held that long:
 * a `long-held-lock` finding on the statement that took it, graded by the slow statement's table,
 * once per table and transaction (none when the slow statement itself is found on that table).
 * Statements without a transaction (`transaction` undefined) hold nothing past themselves.
 */
function heldLockFindings(
  statements: readonly CheckedStatement[],
  live: ReadonlyArray<{ actions: readonly TableAction[]; scans: NonNullable<CheckedStatement['scans']> }>,
  own: readonly (readonly CheckFinding[])[],
  context: LockRuleContext,
): Map<number, CheckFinding[]> {
  const found = new Map<number, CheckFinding[]>();
  const { tables } = context.facts;
  let held = new Map<string, { index: number; mode: string; facts: TableFacts }>();
  const reported = new Set<string>();
  for (const [index, statement] of statements.entries()) {
    if (statement.transaction === undefined || statement.transaction !== statements[index - 1]?.transaction) {
      held = new Map();
      reported.clear();
    }
    if (statement.transaction === undefined) continue;
    // The slowest work of this statement on a live table, if any.
    const slow = [
      ...own[index]!.flatMap((finding) => {
        const work = SLOW_WORK[finding.rule];
        const facts = work ? [...tables.values()].find((table) => table.qualified === finding.table) : undefined;
        return work && facts ? [{ work, facts }] : [];
      }),
      ...live[index]!.scans.map((scan) => ({ work: `the ${scan.what} of every row of`, facts: tables.get(tableKey(scan.table))! })),
    ]
      .filter(({ facts }) => severityBySize(facts) !== undefined)
      .sort((a, b) => (b.facts.rows ?? 0) - (a.facts.rows ?? 0) || b.facts.bytes - a.facts.bytes)[0];
    if (slow) {
      for (const [qualified, taken] of held) {
        if (reported.has(qualified) || own[index]!.some((finding) => finding.table === qualified)) continue;
        reported.add(qualified);
        const taker = statements[taken.index]!;
        const blocks = LOCK_BLOCKS[taken.mode as LockMode] ?? 'INSERT, UPDATE and DELETE (reads go on)';
        const where =
          statement.migration === taker.migration
            ? 'later in the same migration'
            : `in ${statement.migration}, later in the same transaction`;
        const verdict = longHeldLockVerdict({
          mode: taken.mode,
          qualified,
          work: slow.work,
          slowTable: slow.facts.qualified,
          size: describeSize(slow.facts),
          where,
          blocks,
          severity: severityBySize(slow.facts)!,
        });
        found.set(taken.index, [...(found.get(taken.index) ?? []), findingOf(taker, { lock: taken.mode }, taken.facts, verdict)]);
      }
    }
    // The locks this statement takes on live tables, blocking writes at least: held from here on.
    const takes = [
      ...live[index]!.actions.map((action) => ({ table: action.table, mode: action.lock as string })),
      ...(statement.locks ?? []).filter((lock) => lock.kind === 'table' && !lock.created).map((lock) => ({ table: lock, mode: lock.mode })),
    ];
    for (const { table, mode } of takes) {
      const facts = tables.get(tableKey(table));
      if (!facts || lockStrength(mode) < lockStrength('SHARE')) continue;
      const known = held.get(facts.qualified);
      if (!known || lockStrength(mode) > lockStrength(known.mode)) held.set(facts.qualified, { index, mode, facts });
    }
  }
  return found;
}

/** Whether the relation the shadow saw is the table a statement names (unqualified: any schema). */
function names(lock: ObservedLock, table: TableName): boolean {
  return lock.name === table.name && (table.schema === undefined || table.schema === lock.schema);
}

/**
 * What the shadow saw the statement do to a live table that the rules above did not say: a lock
 * that blocks writes (SHARE or stronger) on a table none of its actions names (DROP INDEX, CREATE
 * TRIGGER, REINDEX, CLUSTER, a statement no rule knows), or a rewrite of a table (its file replaced)
 * no finding calls one. Graded by the live table's size, as the rules are.
 */
function observedFindings(
  statement: CheckedStatement,
  onLive: readonly TableAction[],
  found: readonly CheckFinding[],
  context: LockRuleContext,
): CheckFinding[] {
  const findings: CheckFinding[] = [];
  for (const lock of statement.locks ?? []) {
    if (lock.created || lock.kind !== 'table') continue;
    const facts = context.facts.tables.get(tableKey(lock));
    const severity = facts && severityBySize(facts);
    if (!facts || !severity) continue;
    // Named by an action: the table itself, the table a foreign key references, or the partitioned table it is a partition of.
    const parent = lock.partitionOf ? context.facts.tables.get(tableKey(lock.partitionOf))?.qualified : undefined;
    const named = onLive.some((action) => {
      const keys = [
        tableKey(action.table),
        ...(action.kind === 'add-constraint' && action.references ? [tableKey(action.references)] : []),
      ];
      return keys.some((key) => {
        const qualified = context.facts.tables.get(key)?.qualified;
        return qualified !== undefined && (qualified === facts.qualified || qualified === parent);
      });
    });
    const size = describeSize(facts);
    const blocks =
      LOCK_BLOCKS[lock.mode as LockMode] ?? (lock.mode === 'EXCLUSIVE' ? 'INSERT, UPDATE and DELETE (reads go on)' : undefined);
    if (!named && blocks) {
      const dropIndex = /^\s*DROP\s+INDEX\s+(?!CONCURRENTLY)/i.test(statement.sql);
      const verdict = blockingLockVerdict({ qualified: facts.qualified, size, mode: lock.mode, blocks, dropIndex, severity });
      findings.push(findingOf(statement, { lock: lock.mode }, facts, verdict));
    }
    if (lock.rewritten && !found.some((finding) => finding.rule === 'table-rewrite' && finding.table === facts.qualified)) {
      const verdict = observedRewriteVerdict({ qualified: facts.qualified, size, mode: lock.mode, blocks, severity });
      findings.push(findingOf(statement, { lock: lock.mode }, facts, verdict));
    }
  }
  return findings;
}

/** The rules that read one action on a live table, asked in turn: an action is one rule's at most. */
const ACTION_RULES = [blockingIndexVerdict, unvalidatedConstraintVerdict, tableRewriteVerdict, setNotNullScanVerdict];

function hazardOf(action: TableAction, facts: TableFacts, context: LockRuleContext): RuleVerdict | undefined {
  const severity = severityBySize(facts);
  if (!severity) return undefined;
  const size = describeSize(facts);
  const live: LiveAction = {
    facts,
    severity,
    catalog: context.facts,
    notNullChecked: context.notNullChecked,
    holds: (what) =>
      `${what} on ${facts.qualified} (${size}) holds ${action.lock} for as long as that takes, which blocks ${LOCK_BLOCKS[action.lock]}`,
  };
  for (const rule of ACTION_RULES) {
    const verdict = rule(action, live);
    if (verdict) return verdict;
  }
  return undefined;
}
