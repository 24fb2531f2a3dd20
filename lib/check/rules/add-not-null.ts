import { migration, type RuleDefinition } from './rule-definition.js';

export const addNotNull: RuleDefinition = {
  id: 'add-not-null',
  family: 'compatibility',
  severity: 'error',
  foundWhen: 'sets NOT NULL on a column the old release maps as nullable, or adds a NOT NULL column without a default to a table it maps',
  hazard: 'its inserts and updates that leave the column empty fail (a new column: its inserts do not set it)',
  instead: 'release code that always writes it first; add the column nullable or with a default',
  example: {
    unsafe: [migration('ALTER TABLE items ADD COLUMN sku text NOT NULL')],
    safe: [migration("ALTER TABLE items ADD COLUMN sku text NOT NULL DEFAULT ''")],
  },
};
