import type { CheckSeverity, RuleVerdict } from '../check-finding.js';
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
  mysql:
    'the server accepts the statement on the shadow only with `LOCK=SHARED` (a FULLTEXT index), or the statement asks for `LOCK=SHARED` / `EXCLUSIVE` itself: writes (or everything) wait until it ends. By size',
  example: {
    unsafe: [migration('DROP INDEX items_v')],
    safe: [withoutTransaction('DROP INDEX CONCURRENTLY items_v')],
  },
};

/** A lock of SHARE or stronger the shadow saw a statement take on a live table that no action of it names. */
export function blockingLockVerdict(seen: {
  qualified: string;
  size: string;
  mode: string;
  blocks: string;
  /** The statement is a DROP INDEX without CONCURRENTLY. */
  dropIndex: boolean;
  severity: CheckSeverity;
}): RuleVerdict {
  return {
    rule: 'blocking-lock',
    severity: seen.severity,
    message:
      `it takes ${seen.mode} on ${seen.qualified} (${seen.size}), as the shadow showed, and holds it until its ` +
      `transaction ends, which blocks ${seen.blocks}. ` +
      (seen.dropIndex
        ? 'Use DROP INDEX CONCURRENTLY in a migration of its own with `transaction = false`.'
        : 'Keep its migration short (nothing slow after it in the same transaction), set a lock timeout, or run it when the table is quiet.'),
  };
}
