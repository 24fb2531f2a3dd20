import { findingOf, type CheckedStatement, type CheckFinding, type RuleVerdict } from '../check-finding.js';
import type { TableAction } from '../sql/statement-actions.js';
import { tableKey, type CatalogFacts, type TableFacts } from '../table-facts.js';
import { liveActions } from './lock-rules.js';
import { withoutTransaction, type RuleDefinition } from './rule-definition.js';

export const invalidIndex: RuleDefinition = {
  id: 'invalid-index',
  family: 'schema',
  severity: 'error',
  foundWhen:
    'a pending statement builds on an index the live database has INVALID (an interrupted or failed `CREATE INDEX CONCURRENTLY` left it): `CREATE INDEX … IF NOT EXISTS` of its name, `CREATE INDEX` of its name, `ADD CONSTRAINT … USING INDEX` it. Read from the live catalog (`pg_index.indisvalid`), not from the shadow, which copies no INVALID index',
  hazard:
    'with `IF NOT EXISTS` the build is skipped and the index stays INVALID: never used by a query, still maintained by every write; otherwise the migration fails',
  instead:
    'drop it first (`DROP INDEX CONCURRENTLY`, in a migration of its own with `transaction = false`), or rebuild it with `REINDEX INDEX CONCURRENTLY`',
  mysql: 'not found: MySQL/MariaDB have no INVALID indexes',
  example: {
    unsafe: [withoutTransaction('CREATE INDEX CONCURRENTLY IF NOT EXISTS legacy_note_unique ON legacy (note)')],
    safe: [
      withoutTransaction('DROP INDEX CONCURRENTLY IF EXISTS legacy_note_unique'),
      withoutTransaction('CREATE INDEX CONCURRENTLY legacy_note ON legacy (note)'),
    ],
  },
};

/** What a pending action does with an INVALID index of its live table, if anything. */
export function invalidIndexVerdict(action: TableAction, table: TableFacts, catalog: CatalogFacts): RuleVerdict | undefined {
  const name = action.kind === 'create-index' ? action.name : action.kind === 'add-constraint' ? action.indexName : undefined;
  const invalid = name === undefined ? undefined : catalog.invalidIndexes.get(`${table.schema}|${name}`);
  if (!invalid) return undefined;
  const remedy = `Drop it first (${invalid.drop}, in a migration of its own with \`transaction = false\`), or rebuild it (REINDEX INDEX CONCURRENTLY ${invalid.index}).`;
  const left = `${invalid.index} is INVALID in the live database (an interrupted or failed CREATE INDEX CONCURRENTLY left it)`;
  const message =
    action.kind === 'create-index' && action.ifNotExists
      ? `${left}, and CREATE INDEX … IF NOT EXISTS skips it: the index stays INVALID, never used by a query and still maintained by every write. ${remedy}`
      : action.kind === 'create-index'
        ? `${left}: creating an index of that name fails. ${remedy}`
        : `${left}: ADD CONSTRAINT … USING INDEX fails on it. ${remedy}`;
  return { rule: 'invalid-index', severity: 'error', message };
}

/** The pending statements that build on an INVALID index of a live table. Pure. */
export function invalidIndexFindings(statements: readonly CheckedStatement[], facts: CatalogFacts): CheckFinding[] {
  if (facts.invalidIndexes.size === 0) return [];
  return liveActions(statements, facts).flatMap((actions, index) =>
    actions.flatMap((action) => {
      const table = facts.tables.get(tableKey(action.table))!;
      const verdict = invalidIndexVerdict(action, table, facts);
      return verdict ? [findingOf(statements[index]!, action, table, verdict)] : [];
    }),
  );
}
