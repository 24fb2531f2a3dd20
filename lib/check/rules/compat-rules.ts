import type { MappedColumn, MappedTable } from '../snapshot/entity-tables.js';
import type { PreviousRelease } from '../snapshot/build-snapshot.js';
import { findingOf, type CheckedStatement, type CheckFinding, type CompatibilityRule, type RuleVerdict } from '../check-finding.js';
import { rewritesForType } from './lock-rules.js';
import type { TableAction } from '../sql/statement-actions.js';
import { tableKey, type CatalogFacts, type TableFacts } from '../table-facts.js';

interface Breakage extends RuleVerdict {
  readonly rule: CompatibilityRule;
}

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

function breakageOf(action: TableAction, table: MappedTable, live: TableFacts, release: string, facts: CatalogFacts): Breakage | undefined {
  const entities = `${release} maps ${live.qualified} (${table.entities.join(', ')})`;
  const column = (name: string): MappedColumn | undefined => table.columns.find((candidate) => candidate.name === name);
  const twoReleases = 'Do it in two releases: first a release whose entities no longer map it (expand), then the migration (contract).';
  switch (action.kind) {
    case 'drop-table':
      return {
        rule: 'drop-table',
        severity: 'error',
        message: `drops ${live.qualified}, but ${entities}: its pods fail on every query of it until the rollout ends. ${twoReleases}`,
      };
    case 'rename-table':
      return {
        rule: 'rename-table',
        severity: 'error',
        message: `renames ${live.qualified} to "${action.to}", but ${entities} by its old name. Create the new table (or a view under the old name), move the code over, and drop the old name a release later.`,
      };
    case 'drop-column':
    case 'rename-column':
    case 'alter-column-type':
    case 'set-not-null':
    case 'drop-default': {
      const mapped = column(action.column);
      // Widening a varchar, or a binary-coercible cast (varchar to text): the old release reads and writes it as before.
      if (action.kind === 'alter-column-type' && !rewritesForType(action.column, action.type, live, facts)) return undefined;
      return mapped && columnBreakage(action, mapped, `${entities}, with "${action.column}"`, twoReleases);
    }
    case 'add-column':
      if (!action.notNull || action.hasDefault) return undefined;
      return {
        rule: 'add-not-null',
        severity: 'error',
        column: action.column,
        message: `adds "${action.column}" NOT NULL without a default to ${live.qualified}, but ${entities}, whose inserts do not set it and fail. Add it nullable or with a default; make it NOT NULL once no running release inserts without it.`,
      };
    case 'add-constraint': {
      // Only over columns the previous release writes: it maps them, and they existed before the pending run.
      const written = action.columns.filter((name) => column(name) !== undefined && live.columns.has(name));
      if (action.columns.length > 0 && written.length === 0) return undefined;
      const on = written.length > 0 ? ` on ${written.map((name) => `"${name}"`).join(', ')}` : '';
      return {
        rule: 'add-constraint',
        severity: 'warning',
        ...(written.length === 1 ? { column: written[0] } : {}),
        message:
          `adds a ${action.constraint.replace('-', ' ')} constraint${on} to ${live.qualified}, which ${release} writes (its ${table.entities.join(', ')} map it): ` +
          `its writes may violate it and fail during the rollout. Make sure the previous release already writes only rows that satisfy it.`,
      };
    }
    default:
      return undefined;
  }
}

function columnBreakage(
  action: Extract<TableAction, { column: string }>,
  mapped: MappedColumn,
  mapping: string,
  twoReleases: string,
): Breakage | undefined {
  const at = { column: action.column, severity: 'error' as const };
  switch (action.kind) {
    case 'drop-column':
      return {
        ...at,
        rule: 'drop-column',
        message: `drops "${action.column}", but ${mapping}: its pods fail on every query selecting it until the rollout ends. ${twoReleases}`,
      };
    case 'rename-column':
      return {
        ...at,
        rule: 'rename-column',
        message: `renames "${action.column}" to "${action.to}", but ${mapping}: its queries name the old column and fail. Add the new column, write both, backfill, then drop the old one a release after the code stopped mapping it.`,
      };
    case 'alter-column-type':
      return {
        ...at,
        rule: 'change-column-type',
        message: `changes the type of "${action.column}" (${mapped.type} in the previous release), but ${mapping}: its reads and writes may fail or change meaning. Add a column of the new type, backfill it, switch the code over, and drop the old column a release later.`,
      };
    case 'set-not-null':
      if (!mapped.nullable || mapped.generated) return undefined;
      return {
        ...at,
        rule: 'add-not-null',
        message: `sets "${action.column}" NOT NULL, but ${mapping} as nullable: its inserts and updates that leave it empty fail. Release code that always writes it first, then the migration.`,
      };
    case 'drop-default':
      return {
        ...at,
        severity: 'warning',
        rule: 'drop-default',
        message: `drops the default of "${action.column}", but ${mapping}: its inserts that leave it out ${mapped.nullable ? 'store NULL instead' : 'fail'}. Drop it once no running release relies on it.`,
      };
    default:
      return undefined;
  }
}
