import { migration, type RuleDefinition } from './rule-definition.js';

export const tableRewrite: RuleDefinition = {
  id: 'table-rewrite',
  family: 'lock',
  severity: 'by size',
  foundWhen:
    "`ALTER COLUMN … TYPE` that rewrites (not for widening a `varchar`/`varbit` or a binary-coercible cast such as `varchar` → `text`, as the catalog's `pg_cast` says); `ADD COLUMN` with a volatile default (`gen_random_uuid()`, `random()`, `clock_timestamp()`…), `serial`, identity or stored generated; a rewrite the shadow saw (the table's file replaced)",
  hazard: '`ACCESS EXCLUSIVE` while every row and index is rewritten',
  instead:
    'a new column, backfilled in batches, the code switched over, the old column dropped a release later; a new column without the volatile default, then a default for new rows and a batched backfill',
  example: {
    unsafe: [migration('ALTER TABLE items ALTER COLUMN code TYPE bigint')],
    safe: [migration('ALTER TABLE items ADD COLUMN code_big bigint')],
  },
};
