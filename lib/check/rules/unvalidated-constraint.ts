import { migration, type RuleDefinition } from './rule-definition.js';

export const unvalidatedConstraint: RuleDefinition = {
  id: 'unvalidated-constraint',
  family: 'lock',
  severity: 'by size',
  foundWhen: '`ADD CONSTRAINT … FOREIGN KEY` or `CHECK` without `NOT VALID`',
  hazard: '`SHARE ROW EXCLUSIVE` on both tables (foreign key) or `ACCESS EXCLUSIVE` (check) while every row is checked',
  instead:
    'add it `NOT VALID` (new rows are checked at once), `VALIDATE CONSTRAINT` in a later migration (`SHARE UPDATE EXCLUSIVE`: reads and writes go on)',
  example: {
    unsafe: [migration('ALTER TABLE items ADD CONSTRAINT items_code_positive CHECK (code > 0)')],
    safe: [migration('ALTER TABLE items ADD CONSTRAINT items_code_positive CHECK (code > 0) NOT VALID')],
  },
};
