import type { RuleVerdict } from '../check-finding.js';
import type { TableAction } from '../sql/statement-actions.js';
import { migration, type LiveAction, type RuleDefinition } from './rule-definition.js';

export const unvalidatedConstraint: RuleDefinition = {
  id: 'unvalidated-constraint',
  family: 'lock',
  severity: 'by size',
  foundWhen: '`ADD CONSTRAINT … FOREIGN KEY` or `CHECK` without `NOT VALID`',
  hazard: '`SHARE ROW EXCLUSIVE` on both tables (foreign key) or `ACCESS EXCLUSIVE` (check) while every row is checked',
  instead:
    'add it `NOT VALID` (new rows are checked at once), `VALIDATE CONSTRAINT` in a later migration (`SHARE UPDATE EXCLUSIVE`: reads and writes go on)',
  mysql:
    'not found: a foreign key added with `foreign_key_checks` on copies the table (`table-rewrite`), and one added with it off checks no row',
  example: {
    unsafe: [migration('ALTER TABLE items ADD CONSTRAINT items_code_positive CHECK (code > 0)')],
    safe: [migration('ALTER TABLE items ADD CONSTRAINT items_code_positive CHECK (code > 0) NOT VALID')],
  },
};

/** A foreign key or check added without NOT VALID: every existing row is checked under its lock. */
export function unvalidatedConstraintVerdict(action: TableAction, { severity, holds }: LiveAction): RuleVerdict | undefined {
  if (action.kind !== 'add-constraint' || !action.validated) return undefined;
  if (action.constraint !== 'foreign-key' && action.constraint !== 'check') return undefined;
  const what = action.constraint === 'foreign-key' ? 'a foreign key' : 'a check constraint';
  return {
    rule: 'unvalidated-constraint',
    severity,
    message:
      `${holds(`Adding ${what} checks every existing row`)}` +
      (action.references ? ` (and locks the referenced table "${action.references.name}" too)` : '') +
      `. Add it NOT VALID (new rows are checked at once), then VALIDATE CONSTRAINT in a later migration, which lets reads and writes go on.`,
  };
}
