import type { CheckSeverity, RuleVerdict } from '../check-finding.js';
import { migration, type RuleDefinition } from './rule-definition.js';

export const longHeldLock: RuleDefinition = {
  id: 'long-held-lock',
  family: 'lock',
  severity: 'by size',
  foundWhen:
    "a statement takes `SHARE` or stronger on a live table (often a quick one: `ADD COLUMN`, `DROP INDEX`) and a later statement in the same transaction is slow on a big table: an index build, a rewrite, a validation, a `SET NOT NULL` scan, or an `UPDATE` / `DELETE` whose `WHERE` (if any) tests only for NULL, or an `INSERT … SELECT` without `WHERE`, going through every row. Graded by the slow statement's table; once per table and transaction; not when the slow statement is itself found on that table. The transaction is the real run's: one per migration (`'each'`, the default), one for all (`'all'`), none for `transaction = false` or `'none'`",
  hazard: 'the first lock, held for as long as the slow statement takes',
  instead: 'commit in between: the slow statement (the backfill) in a migration of its own, in batches',
  mysql: 'not found: MySQL/MariaDB commit each DDL statement',
  example: {
    unsafe: [migration('ALTER TABLE items ADD COLUMN note text', 'UPDATE items SET note = label')],
    safe: [migration('ALTER TABLE items ADD COLUMN note text'), migration('UPDATE items SET note = label')],
  },
};

/** A lock held through a later slow statement of the same transaction. */
export function longHeldLockVerdict(held: {
  mode: string;
  qualified: string;
  /** What makes the later statement slow, and on which table: `the UPDATE of every row of`… */
  work: string;
  slowTable: string;
  size: string;
  /** Where the slow statement is: `later in the same migration`, or in which one. */
  where: string;
  blocks: string;
  severity: CheckSeverity;
}): RuleVerdict {
  return {
    rule: 'long-held-lock',
    severity: held.severity,
    message:
      `it takes ${held.mode} on ${held.qualified} and holds it until its transaction ends, which comes only after ` +
      `${held.work} ${held.slowTable} (${held.size}) ${held.where}: ${held.qualified} stays locked that long, ` +
      `which blocks ${held.blocks}. ` +
      `Commit in between: put the slow statement in a migration of its own (transaction mode 'each', the default), and backfill in batches.`,
  };
}
