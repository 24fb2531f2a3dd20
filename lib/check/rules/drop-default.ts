import { migration, type RuleDefinition } from './rule-definition.js';

export const dropDefault: RuleDefinition = {
  id: 'drop-default',
  family: 'compatibility',
  severity: 'warning',
  foundWhen: "drops a column's default",
  hazard: 'its inserts that leave the column out store NULL, or fail',
  instead: 'drop it once no running release relies on it',
  example: {
    unsafe: [migration('ALTER TABLE items ALTER COLUMN v DROP DEFAULT')],
    safe: [migration('ALTER TABLE items ALTER COLUMN v SET DEFAULT 1')],
  },
};
