import type { RuleVerdict } from '../check-finding.js';
import type { TableAction } from '../sql/statement-actions.js';
import { migration, type LiveAction, type RuleDefinition } from './rule-definition.js';

export const setNotNullScan: RuleDefinition = {
  id: 'set-not-null-scan',
  family: 'lock',
  severity: 'by size',
  foundWhen: '`SET NOT NULL` with no validated `CHECK (col IS NOT NULL)` in the catalog',
  hazard: '`ACCESS EXCLUSIVE` while every row is scanned',
  instead:
    '`ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT` later, then `SET NOT NULL` (PostgreSQL 12+ skips the scan) and drop the check',
  mysql: "not found: `MODIFY … NOT NULL` is graded by the server's answer, as every `ALTER`",
  example: {
    unsafe: [migration('ALTER TABLE items ALTER COLUMN code SET NOT NULL')],
    safe: [migration('ALTER TABLE items ADD CONSTRAINT items_code_filled CHECK (code IS NOT NULL) NOT VALID')],
  },
};

/** SET NOT NULL that scans every row: no validated IS NOT NULL check on the column lets PostgreSQL skip the scan. */
export function setNotNullScanVerdict(
  action: TableAction,
  { severity, holds, facts, notNullChecked }: LiveAction,
): RuleVerdict | undefined {
  if (action.kind !== 'set-not-null' || notNullChecked.has(`${facts.qualified}|${action.column}`)) return undefined;
  return {
    rule: 'set-not-null-scan',
    severity,
    column: action.column,
    message:
      `${holds(`SET NOT NULL on "${action.column}" scans every row`)}. First ADD CONSTRAINT … CHECK ("${action.column}" IS NOT NULL) NOT VALID, ` +
      `VALIDATE CONSTRAINT in a later migration (reads and writes go on), then SET NOT NULL (no scan) and drop the check.`,
  };
}
