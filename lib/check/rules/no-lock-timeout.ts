import { migration, type RuleDefinition } from './rule-definition.js';

export const noLockTimeout: RuleDefinition = {
  id: 'no-lock-timeout',
  family: 'lock',
  severity: 'warning',
  foundWhen:
    'a statement takes `ACCESS EXCLUSIVE` on a live table, any size, and neither `migrationTimeouts.lockTimeoutMs` nor a `SET lock_timeout` earlier in the migration limits its wait',
  hazard: 'while it waits for a query already running there, every query on the table queues behind it',
  instead: 'set `migrationTimeouts.lockTimeoutMs` (e.g. 5000): the statement gives up and the strategy (`RetryStrategy`) tries again',
  example: {
    unsafe: [migration('ALTER TABLE items ADD COLUMN note text')],
    safe: [migration("SET LOCAL lock_timeout = '5s'", 'ALTER TABLE items ADD COLUMN note text')],
  },
};
