import type { RuleVerdict } from '../check-finding.js';
import type { TableAction } from '../sql/statement-actions.js';
import { migration, TWO_RELEASES, type MappedAction, type RuleDefinition } from './rule-definition.js';

export const dropColumn: RuleDefinition = {
  id: 'drop-column',
  family: 'compatibility',
  severity: 'error',
  foundWhen: 'drops the column',
  hazard: 'its pods fail on every query that selects the column until the rollout ends',
  instead: 'two releases: stop mapping it, then drop it',
  mysql: "as here; TypeORM's `changeColumn` to a new type or length drops the column and adds it again: a drop",
  example: { unsafe: [migration('ALTER TABLE items DROP COLUMN label')], safe: [migration('ALTER TABLE items DROP COLUMN code')] },
};

export function dropColumnVerdict(action: TableAction, { entities, column }: MappedAction): RuleVerdict | undefined {
  if (action.kind !== 'drop-column' || !column(action.column)) return undefined;
  return {
    rule: 'drop-column',
    severity: 'error',
    column: action.column,
    message: `drops "${action.column}", but ${entities}, with "${action.column}": its pods fail on every query selecting it until the rollout ends. ${TWO_RELEASES}`,
  };
}
