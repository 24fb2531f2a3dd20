import { describe, expect, it } from 'vitest';
import type { MigrationEvent } from '../../lib/events/migration-events.js';
import { MigrationStateStore, nextState, type DataSourceMigrationState } from '../../lib/state/migration-state.js';

const running: DataSourceMigrationState = {
  dataSource: 'default',
  status: 'running',
  pending: 3,
  applied: ['A1700000000001'],
  current: { name: 'B1700000000002', index: 2, total: 3, startedAt: new Date(0) },
  lockHolder: 'pid 1',
};

describe('the state transition (one table for every path)', () => {
  it('entering failed clears current, retry and waitingSince, whatever the change named, and keeps why', () => {
    const waiting = nextState(running, { status: 'waiting-for-lock', waitingSince: new Date(1) });
    const retrying = nextState(running, { status: 'retrying', retry: { attempt: 1, attempts: 3, nextAttemptAt: new Date(2) } });
    for (const before of [running, waiting, retrying]) {
      const failed = nextState(before, { status: 'failed', error: 'boom', failedMigration: 'B1700000000002' });
      expect(failed).toEqual({
        ...pick(before, ['dataSource', 'pending', 'applied', 'lockHolder']),
        status: 'failed',
        error: 'boom',
        failedMigration: 'B1700000000002',
      });
      expect(failed).not.toHaveProperty('current');
    }
  });

  it('entering done clears every trace of a failure, a retry and a wait', () => {
    const failed = nextState(running, { status: 'failed', error: 'boom', failedMigration: 'B1700000000002', mayBePartiallyApplied: true });
    expect(nextState(failed, { status: 'done', pending: 0 })).toEqual({
      dataSource: 'default',
      status: 'done',
      pending: 0,
      applied: ['A1700000000001'],
    });
  });

  it('entering running clears a retry, a lock wait and the last error; waiting-for-lock clears the running migration', () => {
    const retrying = nextState(running, {
      status: 'retrying',
      retry: { attempt: 1, attempts: 3, nextAttemptAt: new Date(2) },
      error: 'ECONNREFUSED',
    });
    expect(retrying.current).toBeUndefined();
    expect(retrying.error).toBe('ECONNREFUSED');
    const waiting = nextState(retrying, { status: 'waiting-for-lock', waitingSince: new Date(3) });
    expect(waiting.retry).toBeUndefined();
    expect(nextState(waiting, { status: 'running' })).toEqual({
      dataSource: 'default',
      status: 'running',
      pending: 3,
      applied: ['A1700000000001'],
    });
  });

  it('a change without a status only sets its fields; an undefined field is removed', () => {
    const next = nextState(running, { current: undefined, pending: 2 });
    expect(next).toEqual({ dataSource: 'default', status: 'running', pending: 2, applied: ['A1700000000001'], lockHolder: 'pid 1' });
    expect(Object.isFrozen(next)).toBe(true);
  });

  it('the store applies it to every event', () => {
    const store = new MigrationStateStore();
    store.apply({ type: 'run-queued', dataSource: 'default' });
    store.apply({ type: 'migration-started', dataSource: 'default', migration: 'A1700000000001', index: 1, total: 2 });
    expect(store.get('default')?.current?.name).toBe('A1700000000001');
    store.apply({ type: 'migration-failed', dataSource: 'default', migration: 'A1700000000001', error: 'boom' });
    expect(store.get('default')?.current).toBeUndefined();
    expect(store.get('default')?.status).toBe('failed');
  });
});

describe('the state is folded from the events (reduceState)', () => {
  const at = (ms: number) => new Date(1_700_000_000_000 + ms);
  const fold = (events: MigrationEvent[]) => {
    const store = new MigrationStateStore();
    events.forEach((event, index) => store.apply(event, at(index * 1000)));
    return store;
  };
  const started = (migration: string, index: number, total: number): MigrationEvent => ({
    type: 'migration-started',
    dataSource: 'default',
    migration,
    index,
    total,
  });
  const finished = (migration: string, index: number, total: number): MigrationEvent => ({
    type: 'migration-finished',
    dataSource: 'default',
    migration,
    durationMs: 1,
    index,
    total,
  });

  it('a run: queued, started, two migrations, done', () => {
    const store = fold([
      { type: 'run-queued', dataSource: 'default' },
      { type: 'run-started', dataSource: 'default', pending: ['A1700000000001', 'B1700000000002'] },
      started('A1700000000001', 1, 2),
    ]);
    expect(store.get('default')).toEqual({
      dataSource: 'default',
      status: 'running',
      pending: 2,
      applied: [],
      startedAt: at(1000),
      current: { name: 'A1700000000001', index: 1, total: 2, startedAt: at(2000) },
    });
    store.apply(finished('A1700000000001', 1, 2));
    store.apply(started('B1700000000002', 2, 2));
    store.apply(finished('B1700000000002', 2, 2));
    store.apply(
      { type: 'data-source-done', dataSource: 'default', status: 'done', applied: ['A1700000000001', 'B1700000000002'], durationMs: 5 },
      at(9000),
    );
    expect(store.get('default')).toEqual({
      dataSource: 'default',
      status: 'done',
      pending: 0,
      applied: ['A1700000000001', 'B1700000000002'],
      startedAt: at(1000),
      finishedAt: at(9000),
    });
  });

  it('waiting for the lock: since when (the first wait), who holds it; acquiring clears both', () => {
    const store = fold([
      { type: 'run-queued', dataSource: 'default' },
      { type: 'lock-waiting', dataSource: 'default', holder: 'pid 7', waitedMs: 0, lock: 'the lock', timeoutMs: 60_000 },
      { type: 'lock-waiting', dataSource: 'default', holder: undefined, waitedMs: 1000, lock: 'the lock', timeoutMs: 60_000 },
    ]);
    expect(store.get('default')).toMatchObject({ status: 'waiting-for-lock', waitingSince: at(1000), lockHolder: 'pid 7' });
    store.apply({ type: 'lock-acquired', dataSource: 'default', waitedMs: 1500, lock: 'the lock' });
    expect(store.get('default')).not.toHaveProperty('waitingSince');
    expect(store.get('default')).not.toHaveProperty('lockHolder');
  });

  it('a failure in a migration, a retry, then success: each step shows only what is true now', () => {
    const store = fold([
      { type: 'run-queued', dataSource: 'default' },
      started('A1700000000001', 1, 1),
      {
        type: 'migration-failed',
        dataSource: 'default',
        migration: 'A1700000000001',
        error: 'boom',
        mayBePartiallyApplied: true,
        applied: [],
      },
      { type: 'retrying', dataSource: 'default', attempt: 1, attempts: 3, delayMs: 500, error: 'boom' },
    ]);
    expect(store.get('default')).toEqual({
      dataSource: 'default',
      status: 'retrying',
      pending: 1,
      applied: [],
      failedMigration: 'A1700000000001',
      mayBePartiallyApplied: true,
      error: 'boom',
      retry: { attempt: 1, attempts: 3, nextAttemptAt: at(3500) },
      finishedAt: at(2000),
    });
    store.apply(started('A1700000000001', 1, 1));
    store.apply(finished('A1700000000001', 1, 1));
    store.apply({ type: 'data-source-done', dataSource: 'default', status: 'done', applied: ['A1700000000001'], durationMs: 5 }, at(9000));
    expect(store.get('default')).toEqual({
      dataSource: 'default',
      status: 'done',
      pending: 0,
      applied: ['A1700000000001'],
      finishedAt: at(9000),
    });
  });

  it("done as failed keeps the failure event's error unless it brings its own", () => {
    const store = fold([
      { type: 'run-queued', dataSource: 'default' },
      { type: 'migration-failed', dataSource: 'default', migration: undefined, error: 'could not reach the database' },
      { type: 'data-source-done', dataSource: 'default', status: 'failed', applied: [], durationMs: 1 },
    ]);
    expect(store.get('default')).toMatchObject({ status: 'failed', error: 'could not reach the database' });
    store.apply({ type: 'data-source-done', dataSource: 'default', status: 'failed', applied: [], durationMs: 1, error: 'marked failed' });
    expect(store.get('default')?.error).toBe('marked failed');
  });

  it('disabled: counted pending (with a dirty one), an unreadable count; down/resolve recount', () => {
    const dirty = { name: 'A1700000000001', operation: 'up' as const, startedAt: at(0), startedBy: 'host pid 1', transaction: 'each' };
    const store = fold([
      { type: 'disabled', dataSource: 'default' },
      { type: 'pending-counted', dataSource: 'default', pending: 2, dirty },
    ]);
    expect(store.get('default')).toEqual({ dataSource: 'default', status: 'disabled', pending: 2, applied: [], dirty });
    store.apply({ type: 'pending-counted', dataSource: 'default', pending: 0, error: 'could not read' });
    expect(store.get('default')).toEqual({ dataSource: 'default', status: 'disabled', pending: 0, applied: [], error: 'could not read' });
    store.apply({ type: 'history-changed', dataSource: 'default', pending: 1 });
    expect(store.get('default')).toEqual({ dataSource: 'default', status: 'pending', pending: 1, applied: [] });
  });

  it('tenants are counted as their state changes (no scan per probe), and listed apart from the DataSources', () => {
    const tenant = (name: string) => ({ name, parent: 'app' });
    const store = fold([
      { type: 'run-queued', dataSource: 'app' },
      { type: 'run-queued', dataSource: 'app/a', tenant: tenant('a') },
      { type: 'run-queued', dataSource: 'app/b', tenant: tenant('b') },
      { type: 'run-queued', dataSource: 'app/c', tenant: tenant('c') },
      { type: 'data-source-done', dataSource: 'app/a', status: 'done', applied: [], durationMs: 1 },
      { type: 'migration-failed', dataSource: 'app/b', migration: undefined, error: 'boom' },
    ]);
    const counts = store.tenantCounts('app')!;
    expect({ total: counts.total, done: counts.done, failed: counts.firstFailed() }).toEqual({ total: 3, done: 1, failed: ['b'] });
    // b retried and done; a queued again by a second run.
    store.apply({ type: 'data-source-done', dataSource: 'app/b', status: 'done', applied: [], durationMs: 1 });
    store.apply({ type: 'run-queued', dataSource: 'app/a', tenant: tenant('a') });
    expect({ total: counts.total, done: counts.done, failed: counts.firstFailed() }).toEqual({ total: 3, done: 1, failed: [] });
    expect(store.dataSources().map((state) => state.dataSource)).toEqual(['app']);
    expect(store.all()).toHaveLength(4);
  });
});

function pick<T extends object>(object: T, keys: Array<keyof T>): Partial<T> {
  return Object.fromEntries(keys.filter((key) => object[key] !== undefined).map((key) => [key, object[key]])) as Partial<T>;
}
