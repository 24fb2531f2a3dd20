import { migration, withoutTransaction, type RuleDefinition } from './rule-definition.js';

export const blockingIndex: RuleDefinition = {
  id: 'blocking-index',
  family: 'lock',
  severity: 'by size',
  foundWhen: '`CREATE INDEX` without `CONCURRENTLY`; `ADD CONSTRAINT … UNIQUE / PRIMARY KEY` (builds its index)',
  hazard: '`SHARE`: writes (`ACCESS EXCLUSIVE` for the constraint: everything) for the whole build',
  instead:
    '`CREATE INDEX CONCURRENTLY` in a migration of its own with `transaction = false`; for a constraint, build the unique index that way and `ADD CONSTRAINT … USING INDEX`',
  example: {
    unsafe: [migration('CREATE INDEX items_label ON items (label)')],
    safe: [withoutTransaction('CREATE INDEX CONCURRENTLY items_label ON items (label)')],
  },
};
