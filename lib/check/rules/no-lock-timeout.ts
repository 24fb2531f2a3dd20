import type { RuleVerdict } from '../check-finding.js';
import { LOCK_BLOCKS } from '../sql/statement-actions.js';
import { migration, type RuleDefinition } from './rule-definition.js';

export const noLockTimeout: RuleDefinition = {
  id: 'no-lock-timeout',
  family: 'lock',
  severity: 'warning',
  foundWhen:
    'a statement takes `ACCESS EXCLUSIVE` on a live table, any size, and neither `migrationTimeouts.lockTimeoutMs` nor a `SET lock_timeout` earlier in the migration limits its wait',
  hazard: 'while it waits for a query already running there, every query on the table queues behind it',
  instead: 'set `migrationTimeouts.lockTimeoutMs` (e.g. 5000): the statement gives up and the strategy (`RetryStrategy`) tries again',
  mysql:
    '`ALTER TABLE`, `CREATE` / `DROP INDEX`, `DROP` / `RENAME TABLE` on a live table take an exclusive metadata lock, and `lock_wait_timeout` defaults to a year: found unless `migrationTimeouts.lockTimeoutMs` or a `SET SESSION lock_wait_timeout` earlier in the migration limits it',
  example: {
    unsafe: [migration('ALTER TABLE items ADD COLUMN note text')],
    safe: [migration("SET LOCAL lock_timeout = '5s'", 'ALTER TABLE items ADD COLUMN note text')],
  },
};

/** The first ACCESS EXCLUSIVE on a live table in a migration that sets no lock timeout (nor does the run). */
export function noLockTimeoutVerdict(qualified: string): RuleVerdict {
  return {
    rule: 'no-lock-timeout',
    severity: 'warning',
    message:
      `takes an ACCESS EXCLUSIVE lock on ${qualified} with no lock timeout: while it waits for a query already running there, it blocks ` +
      `${LOCK_BLOCKS['ACCESS EXCLUSIVE']}. Set migrationTimeouts.lockTimeoutMs (e.g. 5000) so that it gives up and the strategy retries, ` +
      `or SET LOCAL lock_timeout at the start of the migration.`,
  };
}
