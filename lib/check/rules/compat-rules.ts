import type { MappedTable } from '../snapshot/entity-tables.js';
import type { PreviousRelease } from '../snapshot/build-snapshot.js';
import { findingOf, type CheckedStatement, type CheckFinding, type RuleVerdict } from '../check-finding.js';
import type { TableAction } from '../sql/statement-actions.js';
import { tableKey, type CatalogFacts, type TableFacts } from '../table-facts.js';
import { addConstraintVerdict } from './add-constraint.js';
import { addNotNullVerdict } from './add-not-null.js';
import { changeColumnTypeVerdict } from './change-column-type.js';
import { dropColumnVerdict } from './drop-column.js';
import { dropDefaultVerdict } from './drop-default.js';
import { dropTableVerdict } from './drop-table.js';
import { renameColumnVerdict } from './rename-column.js';
import { renameTableVerdict } from './rename-table.js';
import type { MappedAction } from './rule-definition.js';

/**
 * What the pending migrations change that the previous release still maps: its pods keep serving
 * during the rollout, with its entities. A table the catalog does not have now (created by the
 * pending migrations) is no previous release's. Pure.
 */
export function compatibilityFindings(
  statements: readonly CheckedStatement[],
  previous: PreviousRelease,
  facts: CatalogFacts,
): CheckFinding[] {
  const mapped = new Map<string, MappedTable>();
  for (const table of previous.snapshot.tables) {
    const live = facts.tables.get(tableKey({ ...(table.schema ? { schema: table.schema } : {}), name: table.table }));
    if (live) mapped.set(`${live.schema}.${live.name}`, table);
  }
  const findings: CheckFinding[] = [];
  // Constraints the pending migrations drop, by table and name: adding one back is no new rule for the running release.
  const dropped = new Set<string>();
  for (const statement of statements) {
    for (const action of statement.actions) {
      const live = facts.tables.get(tableKey(action.table));
      if (live && action.kind === 'drop-constraint') dropped.add(`${live.qualified}|${action.name}`);
      if (live && action.kind === 'add-constraint' && action.name !== undefined && dropped.has(`${live.qualified}|${action.name}`))
        continue;
      const table = live && mapped.get(`${live.schema}.${live.name}`);
      if (!live || !table) continue;
      const breakage = breakageOf(action, table, live, previous.name, facts);
      if (!breakage) continue;
      findings.push(findingOf(statement, action, live, breakage));
    }
  }
  return findings;
}

/** The rules that hold one action against what the previous release maps, asked in turn: an action is one rule's at most. */
const COMPATIBILITY_RULES = [
  dropTableVerdict,
  renameTableVerdict,
  dropColumnVerdict,
  renameColumnVerdict,
  changeColumnTypeVerdict,
  addNotNullVerdict,
  dropDefaultVerdict,
  addConstraintVerdict,
];

function breakageOf(
  action: TableAction,
  table: MappedTable,
  live: TableFacts,
  release: string,
  catalog: CatalogFacts,
): RuleVerdict | undefined {
  const mapped: MappedAction = {
    live,
    catalog,
    release,
    table,
    entities: `${release} maps ${live.qualified} (${table.entities.join(', ')})`,
    column: (name) => table.columns.find((candidate) => candidate.name === name),
  };
  for (const rule of COMPATIBILITY_RULES) {
    const verdict = rule(action, mapped);
    if (verdict) return verdict;
  }
  return undefined;
}
