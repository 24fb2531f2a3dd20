import { migration, type RuleDefinition } from './rule-definition.js';

export const dropColumn: RuleDefinition = {
  id: 'drop-column',
  family: 'compatibility',
  severity: 'error',
  foundWhen: 'drops the column',
  hazard: 'its pods fail on every query that selects the column until the rollout ends',
  instead: 'two releases: stop mapping it, then drop it',
  example: { unsafe: [migration('ALTER TABLE items DROP COLUMN label')], safe: [migration('ALTER TABLE items DROP COLUMN code')] },
};
