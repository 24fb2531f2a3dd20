import type { RuleVerdict } from '../check-finding.js';
import type { TableAction } from '../sql/statement-actions.js';
import { migration, type MappedAction, type RuleDefinition } from './rule-definition.js';

export const dropDefault: RuleDefinition = {
  id: 'drop-default',
  family: 'compatibility',
  severity: 'warning',
  foundWhen: "drops a column's default",
  hazard: 'its inserts that leave the column out store NULL, or fail',
  instead: 'drop it once no running release relies on it',
  mysql: 'as here',
  example: {
    unsafe: [migration('ALTER TABLE items ALTER COLUMN v DROP DEFAULT')],
    safe: [migration('ALTER TABLE items ALTER COLUMN v SET DEFAULT 1')],
  },
};

export function dropDefaultVerdict(action: TableAction, { entities, column }: MappedAction): RuleVerdict | undefined {
  if (action.kind !== 'drop-default') return undefined;
  const mapped = column(action.column);
  if (!mapped) return undefined;
  return {
    rule: 'drop-default',
    severity: 'warning',
    column: action.column,
    message: `drops the default of "${action.column}", but ${entities}, with "${action.column}": its inserts that leave it out ${mapped.nullable ? 'store NULL instead' : 'fail'}. Drop it once no running release relies on it.`,
  };
}
