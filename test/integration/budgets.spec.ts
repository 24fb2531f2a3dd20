// Budgets that catch the next regression without timing: what the module sends per scenario,
// counted, against what TypeORM sends for the same work. A statement (or a round trip) more per
// migration fails here at once instead of waiting for the next bench (bench/README.md keeps the
// timed ratios).
import { createRequire } from 'node:module';
import { DataSource } from 'typeorm';
import { expect, it } from 'vitest';
import { describeEachDatabase } from '../support/database-suite.js';
import { tableMigration, type MigrationClass } from '../support/migrations.js';
import { recordQueries } from '../support/recorded-queries.mjs';
import { bootApp } from '../support/test-app.js';
import { benchTenantMigrations } from '../fixtures/tenant-migrations.mjs';

const COUNT = 200;
const migrations: MigrationClass[] = Array.from({ length: COUNT }, (_, i) =>
  tableMigration(`Budget${String(i).padStart(3, '0')}${1700000000000 + i}`, `budget_${i}`),
);

describeEachDatabase('what the module sends, counted', (t) => {
  /** The statements TypeORM alone sends to connect, and to run every migration ('each', as the module's default). */
  async function typeormAlone(): Promise<{ connect: number; run: number }> {
    const { queries, logger } = recordQueries();
    const dataSource = new DataSource({ ...t.db.options, migrations, logging: 'all', logger } as never);
    await dataSource.initialize();
    const connect = queries.length;
    await dataSource.runMigrations({ transaction: 'each' });
    const run = queries.length - connect;
    await dataSource.dropDatabase();
    await dataSource.destroy();
    return { connect, run };
  }

  async function boot(): Promise<string[]> {
    const { queries, logger } = recordQueries();
    const app = t.track(await bootApp({ dataSources: [{ db: t.db, migrations, options: { logging: 'all', logger } }] }));
    await app.close();
    return queries;
  }

  /**
   * Statements a fresh run may send beyond TypeORM's: fixed costs (the lock and its session, the
   * read before it and the one under it, the checksums' and markers' tables; on PostgreSQL a fresh
   * database's missing table costs one failed read and one catalog question before the lock, the
   * catalog's answer under it), and on MySQL/MariaDB,
   * whose DDL commits implicitly, the marker each migration is recorded as started with.
   */
  const extra = { postgres: 5, mariadb: COUNT + 14, sqlite: 8 }[t.kind];

  it(`a fresh run of ${COUNT} migrations sends no statement per migration more than TypeORM's runMigrations() (a marker on MySQL/MariaDB); a restart with nothing pending, one`, async () => {
    const alone = await typeormAlone();
    const fresh = await boot();
    expect(fresh.length - alone.connect - alone.run, fresh.slice(0, 30).join('\n')).toBeLessThanOrEqual(extra);
    const restart = await boot();
    // The history and each row's checksum hash, in one statement; no lock, no session.
    expect(restart.length - alone.connect, restart.join('\n')).toBe(1);
    expect(restart.at(-1)).toMatch(/LEFT JOIN .*migrations_checksums/);
    // Nothing was tokenised: each migration's up() text is recorded as it is, and compared by its hash.
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) => /[\\/]node_modules[\\/]acorn[\\/]/.test(path));
    expect(loaded).toEqual([]);
  });
});

describeEachDatabase(
  'what the module sends for tenants, counted',
  (t) => {
    const TENANTS = 20;
    it(`a first deploy of ${TENANTS} new tenants: at most 14 statements per tenant for 2 migrations (8 of them the work), no read of a table before it exists, no information_schema`, async () => {
      const { queries, logger } = recordQueries();
      const tenants = Array.from({ length: TENANTS }, (_, i) => `budget_tenant_${i}`);
      const app = t.track(
        await bootApp({
          dataSources: [{ db: t.db, migrations: [], options: { logging: 'all', logger } }],
          migrator: {
            runMigrations: true,
            dataSources: [
              { name: 'default', allowNoMigrations: true, tenants: { list: () => tenants, migrations: benchTenantMigrations(2) } },
            ],
          },
        }),
      );
      await app.close();
      const perTenant = tenants.map((tenant) => queries.filter((query) => query.includes(`"${tenant}"`) || query.includes(`'${tenant}'`)));
      // The work: a transaction per migration (begin, its DDL, its record with its checksum, commit);
      // and per tenant its lock's session, the reads under it, its tables, the unlock. Fixed costs
      // (connecting, listing, the summary) are spread over the tenants.
      expect(queries.length / TENANTS, queries.slice(0, 60).join('\n')).toBeLessThanOrEqual(14 + 20 / TENANTS);
      expect(perTenant.every((sent) => sent.length > 0)).toBe(true);
      expect(queries.filter((query) => /information_schema/i.test(query))).toEqual([]);
      // No read of a tenant's tables before they exist (each would fail: a wasted round trip, and an
      // error in the server's log): the new tenants' reads ask the catalog first.
      const readTooSoon = tenants.flatMap((tenant, index) => {
        const sent = perTenant[index]!;
        const created = (table: string) => sent.findIndex((query) => query.startsWith(`CREATE TABLE ${table}`));
        return [
          ...sent.slice(0, created(`"${tenant}"."migrations"`)).filter((query) => /FROM "[^"]+"\."migrations"/.test(query)),
          ...sent
            .slice(0, created(`IF NOT EXISTS "${tenant}"."migrations_checksums"`))
            .filter((query) => /JOIN "[^"]+"\."migrations_checksums"/.test(query)),
        ];
      });
      expect(readTooSoon).toEqual([]);
    });
  },
  ['postgres'],
);
