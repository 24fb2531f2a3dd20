import { migration, type RuleDefinition } from './rule-definition.js';

export const failsOnData: RuleDefinition = {
  id: 'fails-on-data',
  family: 'data',
  severity: 'error',
  foundWhen:
    '`SET NOT NULL` on a column that holds NULL; a `NOT NULL` column added without a default to a table that has rows; a unique index or a unique or primary key constraint over values that repeat (a primary key also over NULLs); a foreign key added without `NOT VALID` over rows that reference no row of the referenced table. Asked of the live table by one read-only query each',
  hazard: 'the migration fails on the rows the live table holds now, in the middle of the deploy',
  instead:
    "fix the rows first (a data migration, in batches), or add the rule for new rows only (`CHECK … NOT VALID`, a foreign key `NOT VALID`) and validate it once today's rows satisfy it",
  example: {
    unsafe: [migration('ALTER TABLE items ALTER COLUMN label SET NOT NULL')],
    safe: [migration('ALTER TABLE items ADD CONSTRAINT items_label_filled CHECK (label IS NOT NULL) NOT VALID')],
  },
};
