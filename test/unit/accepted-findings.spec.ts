import { describe, expect, it } from 'vitest';
import { acceptedFindingsOf, markAccepted } from '../../lib/check/accepted-findings.js';
import type { CheckFinding } from '../../lib/check/check-finding.js';

const finding = (table: string): CheckFinding => ({
  rule: 'blocking-index',
  severity: 'error',
  migration: 'M1700000000001',
  statement: 'CREATE INDEX i ON "user" (email)',
  table,
  lock: 'SHARE',
  message: 'M1700000000001: …',
});

describe("a migration's accepted findings (no database)", () => {
  it('match by rule and by the table as the migration names it, quoted by the catalog or not', () => {
    const accepted = new Map([['M1700000000001', [{ rule: 'blocking-index' as const, table: 'user', reason: 'maintenance window' }]]]);
    expect(markAccepted([finding('public."user"')], accepted)[0]!.accepted).toEqual({ reason: 'maintenance window' });
    expect(markAccepted([finding('public.users')], accepted)[0]!.accepted).toBeUndefined();
    const qualified = new Map([['M1700000000001', [{ rule: 'blocking-index' as const, table: 'public.user', reason: 'ok' }]]]);
    expect(markAccepted([finding('public."user"')], qualified)[0]!.accepted).toEqual({ reason: 'ok' });
  });

  it('a declaration without a reason, or naming no rule, is refused naming the migration', () => {
    class NoReason {
      static acceptedFindings = [{ rule: 'blocking-index' }];
      async up() {}
      async down() {}
    }
    expect(() => acceptedFindingsOf('NoReason1700000000001', new NoReason())).toThrow(
      /Migration "NoReason1700000000001": static acceptedFindings \[0\] has no reason/,
    );
    class NotAList {
      static acceptedFindings = { rule: 'blocking-index', reason: 'x' };
      async up() {}
      async down() {}
    }
    expect(() => acceptedFindingsOf('NotAList1700000000001', new NotAList())).toThrow(/is not a list/);
  });
});
