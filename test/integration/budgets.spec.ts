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
   * read before it and the one under it, the checksums' and markers' tables), and on MySQL/MariaDB,
   * whose DDL commits implicitly, the marker each migration is recorded as started with.
   */
  const extra = { postgres: 10, mariadb: COUNT + 14, sqlite: 8 }[t.kind];

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
