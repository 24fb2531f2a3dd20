import { migration, type RuleDefinition } from './rule-definition.js';

export const setNotNullScan: RuleDefinition = {
  id: 'set-not-null-scan',
  family: 'lock',
  severity: 'by size',
  foundWhen: '`SET NOT NULL` with no validated `CHECK (col IS NOT NULL)` in the catalog',
  hazard: '`ACCESS EXCLUSIVE` while every row is scanned',
  instead:
    '`ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT` later, then `SET NOT NULL` (PostgreSQL 12+ skips the scan) and drop the check',
  example: {
    unsafe: [migration('ALTER TABLE items ALTER COLUMN code SET NOT NULL')],
    safe: [migration('ALTER TABLE items ADD CONSTRAINT items_code_filled CHECK (code IS NOT NULL) NOT VALID')],
  },
};
