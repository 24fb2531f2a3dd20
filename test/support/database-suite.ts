import { afterEach, beforeEach, describe } from 'vitest';
import { createTestDatabase, DB_KINDS, skipReason, type DbKind, type TestDatabase } from './databases.js';
import type { TestApp } from './test-app.js';

/** What a per-database suite's tests share: a fresh database, and the apps to close after each test. */
export interface DatabaseFixture {
  readonly kind: DbKind;
  /** A new, empty database for each test, dropped after it. */
  readonly db: TestDatabase;
  /** Set it to the app a test boots; it is closed after the test. */
  app: TestApp | undefined;
  /** For a test that boots several apps: each is closed after the test (before the database is dropped). */
  track(app: TestApp): TestApp;
}

/**
 * One suite per database kind, each test with a fresh database. A kind that cannot run here
 * (MariaDB with no server outside CI) is skipped with the reason printed.
 */
export function describeEachDatabase(title: string, body: (fixture: DatabaseFixture) => void, kinds: readonly DbKind[] = DB_KINDS): void {
  describe.each(kinds)(`${title} on %s`, (kind) => {
    const skip = skipReason(kind);
    if (skip) console.warn(`[${kind}] "${title}" skipped: ${skip}`);
    describe.skipIf(skip !== undefined)('', () => {
      let db: TestDatabase | undefined;
      const tracked: TestApp[] = [];
      const fixture: DatabaseFixture = {
        kind,
        get db() {
          if (!db) throw new Error('the database exists only inside a test');
          return db;
        },
        app: undefined,
        track(app) {
          tracked.push(app);
          return app;
        },
      };
      beforeEach(async () => {
        db = await createTestDatabase(kind);
      });
      afterEach(async () => {
        await fixture.app?.close();
        fixture.app = undefined;
        for (const app of tracked.splice(0)) await app.close();
        await db?.drop();
        db = undefined;
      });
      body(fixture);
    });
  });
}
