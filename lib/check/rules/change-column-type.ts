import { migration, type RuleDefinition } from './rule-definition.js';

export const changeColumnType: RuleDefinition = {
  id: 'change-column-type',
  family: 'compatibility',
  severity: 'error',
  foundWhen:
    'changes its type (not when every value stays as it was: a wider `varchar`, or a binary-coercible cast such as `varchar` to `text`)',
  hazard: 'its reads and writes of the column may fail or change meaning',
  instead: 'a new column of the new type, backfilled; the code switched over; the old column dropped later',
  example: {
    unsafe: [migration('ALTER TABLE items ALTER COLUMN v TYPE text')],
    safe: [migration('ALTER TABLE items ALTER COLUMN code TYPE bigint')],
  },
};
