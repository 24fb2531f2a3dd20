import { migration, type RuleDefinition } from './rule-definition.js';

export const addConstraint: RuleDefinition = {
  id: 'add-constraint',
  family: 'compatibility',
  severity: 'warning',
  foundWhen:
    'adds a check, unique, primary key, exclusion or foreign key constraint (`NOT VALID` too: new rows are checked at once) over columns it writes: columns it maps that existed before the pending run (not a column the same run adds, not one it does not map; not a constraint the run drops and adds again under the same name)',
  hazard: 'its writes that break the constraint fail during the rollout',
  instead: 'make sure the previous release writes only rows that satisfy it',
  example: {
    unsafe: [migration("ALTER TABLE items ADD CONSTRAINT items_label_set CHECK (label <> '') NOT VALID")],
    safe: [migration('ALTER TABLE items ADD CONSTRAINT items_code_positive CHECK (code > 0) NOT VALID')],
  },
};
