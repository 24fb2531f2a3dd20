import { migration, type RuleDefinition } from './rule-definition.js';

export const renameTable: RuleDefinition = {
  id: 'rename-table',
  family: 'compatibility',
  severity: 'error',
  foundWhen: 'renames the table',
  hazard: 'its queries name the old table and fail',
  instead: 'a new table (or a view under the old name), the code moved over, the old name dropped a release later',
  example: { unsafe: [migration('ALTER TABLE items RENAME TO products')], safe: [migration('ALTER TABLE legacy RENAME TO legacy_old')] },
};
