import { migration, type RuleDefinition } from './rule-definition.js';

export const renameColumn: RuleDefinition = {
  id: 'rename-column',
  family: 'compatibility',
  severity: 'error',
  foundWhen: 'renames the column',
  hazard: 'its queries name the old column and fail',
  instead: 'a new column written by both releases, backfilled; the code moved over; the old column dropped a release later',
  example: {
    unsafe: [migration('ALTER TABLE items RENAME COLUMN label TO title')],
    safe: [migration('ALTER TABLE items RENAME COLUMN code TO code_old')],
  },
};
