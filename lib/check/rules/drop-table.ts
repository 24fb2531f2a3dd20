import { migration, type RuleDefinition } from './rule-definition.js';

export const dropTable: RuleDefinition = {
  id: 'drop-table',
  family: 'compatibility',
  severity: 'error',
  foundWhen: 'drops the table',
  hazard: 'its pods fail on every query of the table until the rollout ends',
  instead: 'two releases: stop mapping it (expand), then drop it (contract)',
  example: { unsafe: [migration('DROP TABLE items')], safe: [migration('DROP TABLE legacy')] },
};
