import { migration, withoutTransaction, type RuleDefinition } from './rule-definition.js';

export const blockingLock: RuleDefinition = {
  id: 'blocking-lock',
  family: 'lock',
  severity: 'by size',
  foundWhen:
    'what the shadow saw a statement take on a live table that no other rule names: `DROP INDEX`, `REINDEX`, `CREATE TRIGGER`, `CLUSTER`, a statement no rule knows',
  hazard:
    "the lock PostgreSQL reported (`SHARE` or stronger: writes, or everything for `ACCESS EXCLUSIVE`), held until the migration's transaction ends",
  instead:
    '`DROP INDEX CONCURRENTLY` (its own migration, `transaction = false`); otherwise keep the migration short, with a lock timeout, or run it when the table is quiet',
  example: {
    unsafe: [migration('DROP INDEX items_v')],
    safe: [withoutTransaction('DROP INDEX CONCURRENTLY items_v')],
  },
};
