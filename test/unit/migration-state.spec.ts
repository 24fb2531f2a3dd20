import { describe, expect, it } from 'vitest';
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
      expect(failed).toEqual({ ...pick(before, ['dataSource', 'pending', 'applied', 'lockHolder']), status: 'failed', error: 'boom', failedMigration: 'B1700000000002' });
      expect(failed).not.toHaveProperty('current');
    }
  });

  it('entering done clears every trace of a failure, a retry and a wait', () => {
    const failed = nextState(running, { status: 'failed', error: 'boom', failedMigration: 'B1700000000002', mayBePartiallyApplied: true });
    expect(nextState(failed, { status: 'done', pending: 0 })).toEqual({ dataSource: 'default', status: 'done', pending: 0, applied: ['A1700000000001'] });
  });

  it('entering running clears a retry, a lock wait and the last error; waiting-for-lock clears the running migration', () => {
    const retrying = nextState(running, { status: 'retrying', retry: { attempt: 1, attempts: 3, nextAttemptAt: new Date(2) }, error: 'ECONNREFUSED' });
    expect(retrying.current).toBeUndefined();
    expect(retrying.error).toBe('ECONNREFUSED');
    const waiting = nextState(retrying, { status: 'waiting-for-lock', waitingSince: new Date(3) });
    expect(waiting.retry).toBeUndefined();
    expect(nextState(waiting, { status: 'running' })).toEqual({ dataSource: 'default', status: 'running', pending: 3, applied: ['A1700000000001'] });
  });

  it('a change without a status only sets its fields; an undefined field is removed', () => {
    const next = nextState(running, { current: undefined, pending: 2 });
    expect(next).toEqual({ dataSource: 'default', status: 'running', pending: 2, applied: ['A1700000000001'], lockHolder: 'pid 1' });
    expect(Object.isFrozen(next)).toBe(true);
  });

  it('the store applies it to every update', () => {
    const store = new MigrationStateStore();
    store.set(running);
    store.update('default', { status: 'failed', error: 'boom' });
    expect(store.get('default')?.current).toBeUndefined();
    expect(store.get('default')?.status).toBe('failed');
  });
});

function pick<T extends object>(object: T, keys: Array<keyof T>): Partial<T> {
  return Object.fromEntries(keys.filter((key) => object[key] !== undefined).map((key) => [key, object[key]])) as Partial<T>;
}
