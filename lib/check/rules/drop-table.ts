import type { RuleVerdict } from '../check-finding.js';
import type { TableAction } from '../sql/statement-actions.js';
import { migration, TWO_RELEASES, type MappedAction, type RuleDefinition } from './rule-definition.js';

export const dropTable: RuleDefinition = {
  id: 'drop-table',
  family: 'compatibility',
  severity: 'error',
  foundWhen: 'drops the table',
  hazard: 'its pods fail on every query of the table until the rollout ends',
  instead: 'two releases: stop mapping it (expand), then drop it (contract)',
  mysql: "as here, read from the shadow's catalog before and after each statement",
  example: { unsafe: [migration('DROP TABLE items')], safe: [migration('DROP TABLE legacy')] },
};

export function dropTableVerdict(action: TableAction, { live, entities }: MappedAction): RuleVerdict | undefined {
  if (action.kind !== 'drop-table') return undefined;
  return {
    rule: 'drop-table',
    severity: 'error',
    message: `drops ${live.qualified}, but ${entities}: its pods fail on every query of it until the rollout ends. ${TWO_RELEASES}`,
  };
}
