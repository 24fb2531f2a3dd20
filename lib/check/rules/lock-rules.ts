import { findingOf, type CheckedStatement, type CheckFinding, type CheckSeverity, type RuleVerdict } from '../check-finding.js';
import { quoteIdentifier } from '../../util/sql-identifier.js';

export type { CheckedStatement } from '../check-finding.js';
import { lockStrength, type ObservedLock } from '../shadow/observed-locks.js';
import { LOCK_BLOCKS, strongestLock, type LockMode, type TableAction, type TableName, type TypeSpec } from '../sql/statement-actions.js';
import { tableKey, type CatalogFacts, type TableFacts } from '../table-facts.js';

/** A table at least this big (rows as estimated, or heap bytes) makes a lock hazard an error; a smaller non-empty one, a warning. */
export const LARGE_TABLE = { rows: 100_000, bytes: 100 * 1024 * 1024 } as const;

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
    const verdict: RuleVerdict = {
      rule: 'no-lock-timeout',
      severity: 'warning',
      message:
        `takes an ACCESS EXCLUSIVE lock on ${facts.qualified} with no lock timeout: while it waits for a query already running there, it blocks ` +
        `${LOCK_BLOCKS['ACCESS EXCLUSIVE']}. Set migrationTimeouts.lockTimeoutMs (e.g. 5000) so that it gives up and the strategy retries, ` +
        `or SET LOCAL lock_timeout at the start of the migration.`,
    };
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
        const verdict: RuleVerdict = {
          rule: 'long-held-lock',
          severity: severityBySize(slow.facts)!,
          message:
            `it takes ${taken.mode} on ${qualified} and holds it until its transaction ends, which comes only after ` +
            `${slow.work} ${slow.facts.qualified} (${describeSize(slow.facts)}) ${where}: ${qualified} stays locked that long, ` +
            `which blocks ${blocks}. ` +
            `Commit in between: put the slow statement in a migration of its own (transaction mode 'each', the default), and backfill in batches.`,
        };
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
      findings.push(
        findingOf(statement, { lock: lock.mode }, facts, {
          rule: 'blocking-lock',
          severity,
          message:
            `it takes ${lock.mode} on ${facts.qualified} (${size}), as the shadow showed, and holds it until its ` +
            `transaction ends, which blocks ${blocks}. ` +
            (dropIndex
              ? 'Use DROP INDEX CONCURRENTLY in a migration of its own with `transaction = false`.'
              : 'Keep its migration short (nothing slow after it in the same transaction), set a lock timeout, or run it when the table is quiet.'),
        }),
      );
    }
    if (lock.rewritten && !found.some((finding) => finding.rule === 'table-rewrite' && finding.table === facts.qualified)) {
      findings.push(
        findingOf(statement, { lock: lock.mode }, facts, {
          rule: 'table-rewrite',
          severity,
          message:
            `it rewrites ${facts.qualified} (${size}; the shadow saw the table's file replaced) under ${lock.mode}, ` +
            `which blocks ${blocks ?? 'other sessions'} for as long as that takes. Do it when the table is not in use, or on a copy.`,
        }),
      );
    }
  }
  return findings;
}

function hazardOf(action: TableAction, facts: TableFacts, context: LockRuleContext): RuleVerdict | undefined {
  const severity = severityBySize(facts);
  if (!severity) return undefined;
  const size = describeSize(facts);
  const holds = (what: string) =>
    `${what} on ${facts.qualified} (${size}) holds ${action.lock} for as long as that takes, which blocks ${LOCK_BLOCKS[action.lock]}`;
  switch (action.kind) {
    case 'create-index':
      if (action.concurrent) return undefined;
      return {
        rule: 'blocking-index',
        severity,
        message: `${holds('Building the index')}. Use CREATE ${action.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY in a migration of its own with \`transaction = false\`.`,
      };
    case 'add-constraint':
      return constraintHazard(action, severity, holds);
    case 'alter-column-type':
      if (!rewritesForType(action.column, action.type, facts, context.facts)) return undefined;
      return {
        rule: 'table-rewrite',
        severity,
        column: action.column,
        message:
          `${holds(`Changing the type of "${action.column}" rewrites the table and its indexes`)}. ` +
          `Add a new column, backfill it in batches, switch the code over in one release and drop the old column in the next.`,
      };
    case 'add-column': {
      const volatile = action.defaultFunctions.filter((name) => context.facts.volatileFunctions.has(name));
      const why = action.rewrites ?? (volatile.length > 0 ? `its default calls ${volatile.join(', ')}, which is volatile` : undefined);
      if (!why) return undefined;
      return {
        rule: 'table-rewrite',
        severity,
        column: action.column,
        message: `${holds(`Adding "${action.column}" rewrites every row (${why})`)}. Add the column without that default, set the default for new rows, and backfill existing rows in batches.`,
      };
    }
    case 'rewrite':
      return {
        rule: 'table-rewrite',
        severity,
        message: `${holds(`${action.what} rewrites the table`)}. Do it when the table is not in use, or on a copy.`,
      };
    case 'set-not-null':
      if (context.notNullChecked.has(`${facts.qualified}|${action.column}`)) return undefined;
      return {
        rule: 'set-not-null-scan',
        severity,
        column: action.column,
        message:
          `${holds(`SET NOT NULL on "${action.column}" scans every row`)}. First ADD CONSTRAINT … CHECK ("${action.column}" IS NOT NULL) NOT VALID, ` +
          `VALIDATE CONSTRAINT in a later migration (reads and writes go on), then SET NOT NULL (no scan) and drop the check.`,
      };
    default:
      return undefined;
  }
}

function constraintHazard(
  action: Extract<TableAction, { kind: 'add-constraint' }>,
  severity: CheckSeverity,
  holds: (what: string) => string,
): RuleVerdict | undefined {
  if (action.constraint === 'unique' || action.constraint === 'primary-key' || action.constraint === 'exclusion') {
    if (action.usingIndex) return undefined;
    const index =
      action.constraint === 'exclusion'
        ? 'the exclusion constraint'
        : `a ${action.constraint === 'unique' ? 'unique' : 'primary key'} constraint`;
    return {
      rule: 'blocking-index',
      severity,
      message:
        `${holds(`Adding ${index} builds its index`)}. ` +
        (action.constraint === 'exclusion'
          ? 'Build it when the table is not in use, or on a copy.'
          : `Build the index first with CREATE UNIQUE INDEX CONCURRENTLY (its own migration, \`transaction = false\`), then ADD CONSTRAINT … ${action.constraint === 'unique' ? 'UNIQUE' : 'PRIMARY KEY'} USING INDEX.`),
    };
  }
  if (!action.validated) return undefined;
  const what = action.constraint === 'foreign-key' ? 'a foreign key' : 'a check constraint';
  return {
    rule: 'unvalidated-constraint',
    severity,
    message:
      `${holds(`Adding ${what} checks every existing row`)}` +
      (action.references ? ` (and locks the referenced table "${action.references.name}" too)` : '') +
      `. Add it NOT VALID (new rows are checked at once), then VALIDATE CONSTRAINT in a later migration, which lets reads and writes go on.`,
  };
}

/**
 * Whether changing `column` to `type` rewrites (or re-checks) every row: not for a binary-coercible
 * cast to a type without a length limit (varchar to text), nor for widening a varchar or varbit, as
 * the catalog's pg_cast and the column's modifier say. Such a change also keeps every stored value
 * as it was, for a release that still reads and writes the column.
 */
export function rewritesForType(column: string, type: TypeSpec, table: TableFacts, facts: CatalogFacts): boolean {
  const current = table.columns.get(column);
  const target = facts.types.get(typeText(type));
  if (!current || target === undefined || type.converted) return true;
  const limit = type.modifiers[0];
  if (current.typeOid === target) {
    // varchar(n) / varbit(n): the catalog's modifier is n (+ 4 for varchar); a wider or no limit keeps every stored value.
    const header = VARIABLE_LENGTH_HEADER[type.names.at(-1) ?? ''];
    if (header === undefined) return true;
    return !(limit === undefined || (current.typmod >= 0 && limit + header >= current.typmod));
  }
  // A limit on the new type (text to varchar(50)) is checked against every row.
  return limit !== undefined || !facts.binaryCoercible.has(`${current.typeOid}->${target}`);
}

/** Types whose length limit can grow without a rewrite, and what the catalog adds to the limit in `atttypmod`. */
const VARIABLE_LENGTH_HEADER: Partial<Record<string, number>> = { varchar: 4, varbit: 0 };

/** A type as `to_regtype` reads it: its qualified name, and `[]` for an array. */
export function typeText(type: TypeSpec): string {
  return type.names.map(quoteIdentifier).join('.') + (type.array ? '[]' : '');
}

function severityBySize(facts: TableFacts): CheckSeverity | undefined {
  if (facts.bytes === 0 && !((facts.rows ?? 0) > 0)) return undefined;
  return (facts.rows ?? 0) >= LARGE_TABLE.rows || facts.bytes >= LARGE_TABLE.bytes ? 'error' : 'warning';
}

/** A table's size as the catalog knows it: its row estimate (when analyzed) and its heap on disk. */
export function describeSize(facts: TableFacts): string {
  const bytes = facts.bytes >= 1024 * 1024 ? `${(facts.bytes / (1024 * 1024)).toFixed(1)} MiB` : `${Math.ceil(facts.bytes / 1024)} KiB`;
  if (facts.rows === undefined) return `never analyzed; ${bytes} on disk`;
  const rows = `about ${Math.round(facts.rows).toLocaleString('en-US')} rows`;
  return facts.rowsFromPages ? `${rows}, ${bytes}; never analyzed: the planner's estimate from its size` : `${rows}, ${bytes}`;
}
