import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { freePort, startNode, type RunningProcess } from '../support/processes.js';
import { waitFor } from '../support/test-app.js';

const MAIN = join(import.meta.dirname, '../../sample-app/dist/main.js');
const SAMPLE_MIGRATIONS = ['CreateNotes1732000000001', 'SeedWelcomeNote1732000000002', 'AddNoteCreatedAt1732000000003'];

async function bootSample(env: Record<string, string | undefined>, cwd?: string): Promise<{ app: RunningProcess; url: string }> {
  const port = await freePort();
  const app = startNode(MAIN, { PORT: String(port), ...env }, { cwd });
  const url = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitFor(async () => (await fetch(`${url}/health/live`)).ok, 30_000, 'the sample app to listen'),
    app.exited.then((code) => {
      throw new Error(`the sample app exited with ${code} before listening:\n${app.output()}`);
    }),
  ]);
  return { app, url };
}

describe('the sample app, as a real process', () => {
  const running: RunningProcess[] = [];
  const databases: TestDatabase[] = [];
  beforeAll(() => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first (npm test does).`);
  });
  afterEach(async () => {
    for (const app of running.splice(0)) await app.stop();
    for (const db of databases.splice(0)) await db.drop();
  });

  it('on its embedded SQLite file: migrates on first start, finds nothing pending on the second', async () => {
    const db = await createTestDatabase('sqlite');
    databases.push(db);
    const env = { SQLITE_PATH: db.url, RUN_MIGRATIONS: 'true', DATABASE_URL: '' };

    const first = await bootSample(env);
    running.push(first.app);
    const ready = await fetch(`${first.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ info: { migrations: { status: 'up' }, database: { status: 'up' } } });
    expect(await (await fetch(`${first.url}/notes`)).json()).toEqual([
      { id: 1, title: 'Welcome', body: 'This note was written by a data migration.' },
    ]);
    expect(first.app.output()).toMatch(/\[1\/3\] CreateNotes1732000000001 applied in \d+ ms/);
    expect(first.app.output()).toMatch(/Backed up .* to .*-before-migrations\.sqlite\.bak/);
    // Nest runs its shutdown hooks, then re-raises the signal.
    expect(await first.app.stop()).toBe('SIGTERM');
    expect(first.app.output()).not.toMatch(/ERROR|Unhandled|DataSource is not initialized/);
    running.splice(0);

    const second = await bootSample(env);
    running.push(second.app);
    expect((await fetch(`${second.url}/health/ready`)).status).toBe(200);
    expect(second.app.output()).toContain('DataSource "default": no pending migrations');
    expect(second.app.output()).not.toContain('applied in');
    expect(await db.recorded()).toEqual(SAMPLE_MIGRATIONS);
    expect(await db.query('SELECT COUNT(*) AS n FROM note')).toEqual([{ n: 1 }]);
  });

  it('on PostgreSQL when DATABASE_URL is set', async () => {
    const db = await createTestDatabase('postgres');
    databases.push(db);
    const { app, url } = await bootSample({ DATABASE_URL: db.url, RUN_MIGRATIONS: 'true' });
    running.push(app);
    expect((await fetch(`${url}/health/ready`)).status).toBe(200);
    expect(await db.recorded()).toEqual(SAMPLE_MIGRATIONS);
    expect(await db.query('SELECT title FROM note')).toEqual([{ title: 'Welcome' }]);
  });

  it('started from another working directory: its migrations paths do not depend on it', async () => {
    const db = await createTestDatabase('sqlite');
    databases.push(db);
    const { app, url } = await bootSample({ SQLITE_PATH: db.url, RUN_MIGRATIONS: 'true', DATABASE_URL: '' }, tmpdir());
    running.push(app);
    expect((await fetch(`${url}/health/ready`)).status).toBe(200);
    expect(await db.recorded()).toEqual(SAMPLE_MIGRATIONS);
  });

  it('does not migrate with RUN_MIGRATIONS=false, and readiness says the schema is missing', async () => {
    const db = await createTestDatabase('sqlite');
    databases.push(db);
    const { app, url } = await bootSample({ SQLITE_PATH: db.url, RUN_MIGRATIONS: 'false', DATABASE_URL: '' });
    running.push(app);
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      error: { migrations: { status: 'down', dataSources: { default: { state: 'disabled', pending: 3 } } } },
    });
    expect(await db.tables()).toEqual([]);
  });

  it('its RestoreBackupStrategy: a database that cannot be migrated is restored, the app boots, readiness is down', async () => {
    const db = await createTestDatabase('sqlite');
    databases.push(db);
    // A stray "note" table with data makes the first migration fail.
    await db.query(`CREATE TABLE note (id INTEGER PRIMARY KEY, title TEXT)`);
    await db.query(`INSERT INTO note (id, title) VALUES (7, 'kept by the restore')`);

    const { app, url } = await bootSample({ SQLITE_PATH: db.url, RUN_MIGRATIONS: 'true', DATABASE_URL: '' });
    running.push(app);
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      error: { migrations: { dataSources: { default: { state: 'failed', failedMigration: 'CreateNotes1732000000001' } } } },
    });
    expect(app.output()).toContain('restoring the backup taken before migrating, then retrying once');
    expect(app.output().match(/Restored .* from /g)).toHaveLength(2);
    // The restored database is the one from before the boot.
    expect(await db.query('SELECT id, title FROM note')).toEqual([{ id: 7, title: 'kept by the restore' }]);
  });
});
