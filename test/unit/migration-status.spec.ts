import { describe, expect, it } from 'vitest';
import { AutoMigratorConfigError } from '../../lib/index.js';
import { compareWithBuild } from '../../lib/history/migration-status.js';
import { buildMigrations } from '../../lib/plan/build-migrations.js';

function migration(name: string) {
  return { name, up: async () => undefined, down: async () => undefined };
}

describe('buildMigrations', () => {
  it('lists the build oldest first by the timestamp ending each name, and reads each array once', () => {
    const migrations = [migration('B1700000000002'), migration('A1700000000001'), migration('C1700000000003')];
    const list = buildMigrations(migrations, 'DataSource "default"');
    expect(list.map((m) => m.name)).toEqual(['A1700000000001', 'B1700000000002', 'C1700000000003']);
    expect(list[0]!.timestamp).toBe(1700000000001);
    expect(buildMigrations(migrations, 'DataSource "default"')).toBe(list);
  });

  it('names the owner and the migration when a name has no timestamp or is taken twice', () => {
    expect(() => buildMigrations([migration('AddIndex')], 'DataSource "reports"')).toThrow(AutoMigratorConfigError);
    expect(() => buildMigrations([migration('AddIndex')], 'DataSource "reports"')).toThrow(
      /DataSource "reports": migration "AddIndex" must end in a 13-digit/,
    );
    expect(() => buildMigrations([migration('A1700000000001'), migration('A1700000000001')], 'DataSource "x"')).toThrow(
      /DataSource "x": two migrations are named "A1700000000001"/,
    );
  });
});

describe('compareWithBuild', () => {
  const known = buildMigrations(
    [migration('A1700000000001'), migration('B1700000000002'), migration('C1700000000003'), migration('D1700000000004')],
    'DataSource "default"',
  );

  it('nothing recorded: everything pending, nothing out of order', () => {
    const report = compareWithBuild(known, []);
    expect(report.pending.map((m) => m.name)).toEqual(['A1700000000001', 'B1700000000002', 'C1700000000003', 'D1700000000004']);
    expect(report.applied).toEqual([]);
    expect(report.unknown).toEqual([]);
    expect(report.outOfOrder).toEqual([]);
  });

  it('applied in the order recorded, with positions; pending older than the newest applied are out of order', () => {
    const report = compareWithBuild(known, ['A1700000000001', 'C1700000000003']);
    expect(report.applied).toEqual([
      { name: 'A1700000000001', timestamp: 1700000000001, order: 1 },
      { name: 'C1700000000003', timestamp: 1700000000003, order: 2 },
    ]);
    expect(report.pending.map((m) => m.name)).toEqual(['B1700000000002', 'D1700000000004']);
    expect(report.outOfOrder.map((m) => m.name)).toEqual(['B1700000000002']);
  });

  it('recorded names this build lacks are unknown, even one that ends in no timestamp', () => {
    const report = compareWithBuild(known, ['A1700000000001', 'Z1800000000000', 'handWritten']);
    expect(report.unknown).toEqual([
      { name: 'Z1800000000000', timestamp: 1800000000000, order: 2 },
      { name: 'handWritten', timestamp: 0, order: 3 },
    ]);
    // An unknown migration newer than every pending one makes them all out of order.
    expect(report.outOfOrder.map((m) => m.name)).toEqual(['B1700000000002', 'C1700000000003', 'D1700000000004']);
  });
});
