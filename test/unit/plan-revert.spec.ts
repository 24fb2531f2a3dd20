import { describe, expect, it } from 'vitest';
import { AutoMigratorConfigError } from '../../lib/errors/auto-migrator-config.error.js';
import type { AppliedMigration } from '../../lib/history/migration-status.js';
import { planRevert } from '../../lib/operations/revert-migrations.js';

const applied = (name: string, order: number): AppliedMigration => ({ name, timestamp: Number(name.slice(-13)), order });

const a = applied('First1700000000001', 1);
const b = applied('Second1700000000002', 2);
const c = applied('Third1700000000003', 3);

describe('planRevert: what a down to a target reverts (no database)', () => {
  it('reverts every migration newer than the target, newest first, by name or by timestamp', () => {
    expect(planRevert('DataSource "x"', { applied: [a, b, c], unknown: [] }, 'First1700000000001')).toEqual({
      toRevert: [c, b],
      target: a,
    });
    expect(planRevert('DataSource "x"', { applied: [a, b, c], unknown: [] }, '1700000000002')).toEqual({ toRevert: [c], target: b });
  });

  it("'0' reverts everything, in the order applied (the table's order, not the name's), newest first", () => {
    // Applied out of timestamp order: the migrations table's order decides.
    const late = applied('Late1700000000000', 3);
    expect(planRevert('DataSource "x"', { applied: [a, b, late], unknown: [] }, '0')).toEqual({
      toRevert: [late, b, a],
      target: undefined,
    });
  });

  it('the target itself, the newest, reverts nothing', () => {
    expect(planRevert('DataSource "x"', { applied: [a, b, c], unknown: [] }, c.name)).toEqual({ toRevert: [], target: c });
  });

  it('a target that is not applied names the applied ones and reverts nothing', () => {
    const attempt = () => planRevert('DataSource "x"', { applied: [a, b], unknown: [] }, 'Nope1700000000009');
    expect(attempt).toThrow(AutoMigratorConfigError);
    expect(attempt).toThrow(
      /--to "Nope1700000000009" is not an applied migration.*Applied: First1700000000001, Second1700000000002\. Nothing was reverted/,
    );
  });

  it('a migration to revert that this build lacks fails the whole down; older unknown ones below the target do not', () => {
    const unknownNew = applied('Gone1700000000004', 4);
    expect(() => planRevert('DataSource "x"', { applied: [a, b, c], unknown: [unknownNew] }, b.name)).toThrow(
      /cannot revert "Gone1700000000004": not in this build, so its down\(\) is not available\. Nothing was reverted/,
    );
    const unknownOld = applied('Old1600000000000', 1);
    const shifted = [applied(a.name, 2), applied(b.name, 3)];
    expect(planRevert('DataSource "x"', { applied: shifted, unknown: [unknownOld] }, shifted[0]!.name).toRevert).toEqual([shifted[1]]);
  });
});
