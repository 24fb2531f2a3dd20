import { describe, expect, it } from 'vitest';
import type { MigrationEvent } from '../../lib/events/migration-events.js';
import { buildReadiness } from '../../lib/health/readiness.js';
import { MigrationStateStore } from '../../lib/state/migration-state.js';

function storeOf(events: MigrationEvent[]): MigrationStateStore {
  const store = new MigrationStateStore();
  for (const event of events) store.apply(event, new Date(Date.UTC(2026, 10, 23)));
  return store;
}

const done = (dataSource: string): MigrationEvent => ({ type: 'data-source-done', dataSource, status: 'done', applied: [], durationMs: 1 });
const all = () => true;

describe('readiness, built from the state (no database)', () => {
  it('ready only when every DataSource is done; a failed one says why', () => {
    const store = storeOf([{ type: 'run-queued', dataSource: 'a' }, { type: 'run-queued', dataSource: 'b' }, done('a')]);
    expect(buildReadiness(store, 'full', all)).toEqual({
      ready: false,
      dataSources: { a: { state: 'done', pending: 0, applied: 0 }, b: { state: 'pending', pending: 0, applied: 0 } },
    });
    store.apply({
      type: 'migration-failed',
      dataSource: 'b',
      migration: 'B1700000000002',
      error: 'DataSource "b": boom',
      mayBePartiallyApplied: true,
    });
    expect(buildReadiness(store, 'full', all).dataSources['b']).toEqual({
      state: 'failed',
      pending: 0,
      applied: 0,
      failedMigration: 'B1700000000002',
      mayBePartiallyApplied: true,
      error: 'DataSource "b": boom',
    });
    store.apply(done('b'));
    expect(buildReadiness(store, 'full', all).ready).toBe(true);
  });

  it('no DataSource at all is not ready', () => {
    expect(buildReadiness(new MigrationStateStore(), 'full', all)).toEqual({ ready: false, dataSources: {} });
  });

  it('disabled: ready when the last count found nothing pending and could be read', () => {
    const store = storeOf([
      { type: 'disabled', dataSource: 'a' },
      { type: 'pending-counted', dataSource: 'a', pending: 2 },
    ]);
    expect(buildReadiness(store, 'full', all)).toEqual({ ready: false, dataSources: { a: { state: 'disabled', pending: 2, applied: 0 } } });
    store.apply({ type: 'pending-counted', dataSource: 'a', pending: 0, error: 'could not read pending migrations: ECONNREFUSED' });
    expect(buildReadiness(store, 'full', all).ready).toBe(false);
    store.apply({ type: 'pending-counted', dataSource: 'a', pending: 0 });
    expect(buildReadiness(store, 'full', all)).toEqual({ ready: true, dataSources: { a: { state: 'disabled', pending: 0, applied: 0 } } });
  });

  it('tenants: counted, the failed ones named (up to 10), and readiness waits for them unless they do not affect it', () => {
    const tenants = Array.from({ length: 12 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    const store = storeOf([
      { type: 'run-queued', dataSource: 'app' },
      done('app'),
      ...tenants.map((name): MigrationEvent => ({ type: 'run-queued', dataSource: `app/${name}`, tenant: { name, parent: 'app' } })),
      ...tenants
        .slice(0, 11)
        .map((name): MigrationEvent => ({ type: 'migration-failed', dataSource: `app/${name}`, migration: undefined, error: 'boom' })),
    ]);
    const readiness = buildReadiness(store, 'full', all);
    expect(readiness.ready).toBe(false);
    expect(readiness.dataSources['app']?.tenants).toEqual({
      total: 12,
      done: 0,
      failed: 11,
      inProgress: 1,
      failedTenants: tenants.slice(0, 10),
    });
    expect(buildReadiness(store, 'full', () => false).ready).toBe(true);
    for (const name of tenants) store.apply(done(`app/${name}`));
    expect(buildReadiness(store, 'full', all)).toEqual({
      ready: true,
      dataSources: { app: { state: 'done', pending: 0, applied: 0, tenants: { total: 12, done: 12, failed: 0, inProgress: 0 } } },
    });
  });

  it("readinessDetails 'counts': states and numbers, no names, errors or hosts", () => {
    const store = storeOf([
      { type: 'run-queued', dataSource: 'a' },
      { type: 'lock-waiting', dataSource: 'a', holder: 'pid 7 on db.internal', waitedMs: 0, lock: 'the lock', timeoutMs: 1000 },
      { type: 'migration-failed', dataSource: 'a', migration: 'A1700000000001', error: 'password=hunter2' },
    ]);
    expect(buildReadiness(store, 'counts', all)).toEqual({ ready: false, dataSources: { a: { state: 'failed', pending: 0, applied: 0 } } });
  });

  it('reads one state per DataSource and the tenant counters: no scan of the tenants per probe', () => {
    const store = storeOf([{ type: 'run-queued', dataSource: 'app' }, done('app')]);
    for (let i = 0; i < 10_000; i++) store.apply({ type: 'run-queued', dataSource: `app/t${i}`, tenant: { name: `t${i}`, parent: 'app' } });
    expect(store.all()).toHaveLength(10_001);
    // A probe that walked every state would go through these: it must not.
    store.all = () => {
      throw new Error('readiness scanned every state');
    };
    store.get = store.all as never;
    expect(buildReadiness(store, 'full', all).dataSources['app']?.tenants).toEqual({
      total: 10_000,
      done: 0,
      failed: 0,
      inProgress: 10_000,
    });
  });
});
