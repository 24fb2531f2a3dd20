import type { RuleVerdict } from '../check-finding.js';
import type { TableAction } from '../sql/statement-actions.js';
import { migration, type MappedAction, type RuleDefinition } from './rule-definition.js';

export const renameTable: RuleDefinition = {
  id: 'rename-table',
  family: 'compatibility',
  severity: 'error',
  foundWhen: 'renames the table',
  hazard: 'its queries name the old table and fail',
  instead: 'a new table (or a view under the old name), the code moved over, the old name dropped a release later',
  mysql: 'as here (a table gone, and one with its columns appearing, in one statement)',
  example: { unsafe: [migration('ALTER TABLE items RENAME TO products')], safe: [migration('ALTER TABLE legacy RENAME TO legacy_old')] },
};

export function renameTableVerdict(action: TableAction, { live, entities }: MappedAction): RuleVerdict | undefined {
  if (action.kind !== 'rename-table') return undefined;
  return {
    rule: 'rename-table',
    severity: 'error',
    message: `renames ${live.qualified} to "${action.to}", but ${entities} by its old name. Create the new table (or a view under the old name), move the code over, and drop the old name a release later.`,
  };
}
