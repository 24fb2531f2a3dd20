import { expect, it } from 'vitest';
import { AutoMigratorService, type BuildSnapshot, type DeployCheckResult } from '../../lib/index.js';
import { RULE_EXAMPLE_PREVIOUS_RELEASE, RULE_EXAMPLE_SCHEMA, RULES, type ExampleMigration } from '../../lib/check/rules/registry.js';
import { describeEachDatabase, type DatabaseFixture } from '../support/database-suite.js';
import { defineMigration, sql } from '../support/migrations.js';
import { bootApp } from '../support/test-app.js';

const PREVIOUS_RELEASE: BuildSnapshot = {
  format: 'nestjs-auto-migrator/snapshot@1',
  build: 'previous',
  createdAt: '2026-12-01T00:00:00.000Z',
  dataSources: [{ dataSource: 'default', tables: RULE_EXAMPLE_PREVIOUS_RELEASE }],
};

/** `check` of the example's migrations as pending ones, on the example schema, with the previous release's snapshot; no lock timeout set. */
async function checkExample(t: DatabaseFixture, migrations: readonly ExampleMigration[]): Promise<DeployCheckResult> {
  const pending = migrations.map((migration, index) =>
    defineMigration(
      `Example${1700000000001 + index}`,
      sql(...migration.sql),
      migration.transaction === false ? { transaction: false } : {},
    ),
  );
  const app = t.track(await bootApp({ dataSources: [{ db: t.db, migrations: pending }], migrator: { runMigrations: false } }));
  try {
    const [result] = await app.app.get(AutoMigratorService).check({ snapshot: PREVIOUS_RELEASE });
    return result!;
  } finally {
    await app.close();
  }
}

describeEachDatabase(
  'every rule of the registry, on a real server: its example is found, and its safe rewrite is not',
  (t) => {
    for (const rule of RULES) {
      it(`${rule.id} (${rule.family})`, async () => {
        for (const statement of RULE_EXAMPLE_SCHEMA) {
          if (typeof statement === 'string') await t.db.query(statement);
          else await expect(t.db.query(statement.sql)).rejects.toThrow();
        }
        const unsafe = await checkExample(t, rule.example.unsafe);
        const safe = await checkExample(t, rule.example.safe);
        for (const result of [unsafe, safe]) {
          expect(result.unchecked).toEqual([]);
          expect(result.previousRelease?.mapsThisDataSource).toBe(true);
        }
        const found = unsafe.findings.filter((finding) => finding.rule === rule.id);
        expect(found.length, `${rule.id} on its example: ${JSON.stringify(unsafe.findings.map((f) => f.rule))}`).toBeGreaterThan(0);
        expect(found.every((finding) => rule.severity === 'by size' || finding.severity === rule.severity)).toBe(true);
        expect(safe.findings.filter((finding) => finding.rule === rule.id)).toEqual([]);
      });
    }
  },
  ['postgres'],
);
