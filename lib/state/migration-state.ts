import { Injectable } from '@nestjs/common';
import type { EventTenant, MigrationEvent } from '../events/migration-events.js';
import type { StartedMigration } from '../contracts/migration-records.js';
import { LISTED_NAMES } from '../util/name-list.js';

/**
 * - `disabled`: migrations are not run by this process (RUN_MIGRATIONS is off).
 * - `pending`: not started yet.
 * - `waiting-for-lock`: another process holds the migration lock; this one waits.
 * - `retrying`: an attempt failed (e.g. the database is unreachable); the strategy tries again.
 * - `running`: a migration is being applied.
 * - `done`: every migration is applied (or nothing was pending).
 * - `failed`: the strategy gave up on this DataSource.
 */
export type MigrationState = 'disabled' | 'pending' | 'waiting-for-lock' | 'retrying' | 'running' | 'done' | 'failed';

/** The migration being applied right now. */
export interface RunningMigration {
  readonly name: string;
  /** 1-based position in this run. */
  readonly index: number;
  readonly total: number;
  readonly startedAt: Date;
}

/** A snapshot of one DataSource's migration state. */
export interface DataSourceMigrationState {
  /** The DataSource name, or `<DataSource>/<tenant>` for a tenant. */
  readonly dataSource: string;
  /** For a tenant: its name and its DataSource. */
  readonly tenant?: { readonly name: string; readonly parent: string };
  readonly status: MigrationState;
  /** Migrations still pending, as last known. */
  readonly pending: number;
  /** The first of them by name (up to 10), while none runs: as counted while disabled, or as a run starts. */
  readonly pendingNames?: readonly string[];
  /** Migrations applied by this process so far. */
  readonly applied: readonly string[];
  readonly current?: RunningMigration;
  /** The migration that failed, when the failure happened inside one. */
  readonly failedMigration?: string;
  /** The failure's message, with secrets removed. */
  readonly error?: string;
  /** Set when the failed migration ran without a transaction: it may be partially applied. */
  readonly mayBePartiallyApplied?: boolean;
  /**
   * A migration recorded as started and never finished (by an earlier run, or by this one's failure
   * on MySQL/MariaDB or without a transaction): nothing runs until it is resolved.
   */
  readonly dirty?: StartedMigration;
  /** The retry in progress (status `retrying`). */
  readonly retry?: { readonly attempt: number; readonly attempts: number; readonly nextAttemptAt: Date };
  /** Since when this process waits for the migration lock (status `waiting-for-lock`). */
  readonly waitingSince?: Date;
  /** Who held the lock when last asked, as the database tells. */
  readonly lockHolder?: string;
  readonly startedAt?: Date;
  readonly finishedAt?: Date;
}

type StateField = Exclude<keyof DataSourceMigrationState, 'dataSource' | 'status' | 'pending' | 'applied'>;

/**
 * What entering each status clears, whichever path entered it: the fields that describe another
 * status. `failed` keeps what says why (error, failedMigration, dirty) and who held the lock.
 */
const CLEARED_ON_ENTRY: Readonly<Record<MigrationState, readonly StateField[]>> = {
  disabled: [],
  pending: [],
  'waiting-for-lock': ['current', 'retry'],
  retrying: ['current', 'waitingSince'],
  running: ['pendingNames', 'retry', 'waitingSince', 'lockHolder', 'error', 'failedMigration', 'mayBePartiallyApplied', 'dirty'],
  done: ['pendingNames', 'current', 'retry', 'waitingSince', 'lockHolder', 'error', 'failedMigration', 'mayBePartiallyApplied', 'dirty'],
  failed: ['current', 'retry', 'waitingSince'],
};

/**
 * The state after `change`: its fields over the previous ones, then, when it sets a status, the
 * fields that status does not have cleared (see CLEARED_ON_ENTRY). Pure: the store's one transition.
 */
export function nextState(
  previous: DataSourceMigrationState,
  change: Partial<Omit<DataSourceMigrationState, 'dataSource'>>,
): DataSourceMigrationState {
  // Built field by field, in the order a spread of both would give, skipping what is cleared or
  // undefined: deleting fields from a copy made each state a slow dictionary object, and folding
  // the two events of each of 10,000 tenants on a restart cost tens of milliseconds.
  const cleared = change.status === undefined ? undefined : CLEARED_SETS[change.status];
  const next: Record<string, unknown> = {};
  for (const key in previous) {
    const value =
      key === 'dataSource'
        ? previous.dataSource
        : key in change
          ? change[key as keyof typeof change]
          : previous[key as keyof DataSourceMigrationState];
    if (value !== undefined && !cleared?.has(key)) next[key] = value;
  }
  for (const key in change) {
    const value = change[key as keyof typeof change];
    if (!(key in previous) && value !== undefined && !cleared?.has(key)) next[key] = value;
  }
  return Object.freeze(next) as unknown as DataSourceMigrationState;
}

/** CLEARED_ON_ENTRY as sets. */
const CLEARED_SETS = Object.fromEntries(
  Object.entries(CLEARED_ON_ENTRY).map(([status, fields]) => [status, new Set<string>(fields)]),
) as unknown as Record<MigrationState, ReadonlySet<string>>;

/** No migration applied (shared: a state's `applied` is never changed in place). */
const NONE_APPLIED: readonly string[] = Object.freeze([]);

/** A fresh state: a DataSource (or tenant) entering a run, or disabled. */
function freshState(dataSource: string, status: MigrationState, tenant?: EventTenant): DataSourceMigrationState {
  return Object.freeze(
    tenant ? { dataSource, tenant, status, pending: 0, applied: NONE_APPLIED } : { dataSource, status, pending: 0, applied: NONE_APPLIED },
  );
}

type Reducer<T extends MigrationEvent['type']> = (
  state: DataSourceMigrationState,
  event: Extract<MigrationEvent, { type: T }>,
  now: Date,
) => DataSourceMigrationState;

/** What each event does to the state: one entry per event type (the compiler checks none is missing). */
const REDUCERS: { readonly [T in MigrationEvent['type']]: Reducer<T> } = {
  'run-queued': (state, event) => freshState(event.dataSource, 'pending', event.tenant ?? state.tenant),
  disabled: (state, event) => freshState(event.dataSource, 'disabled', state.tenant),
  'pending-counted': (state, event) => {
    // While disabled, what the database has pending is the state (whatever an operation did here before).
    return nextState(freshState(event.dataSource, 'disabled', state.tenant), {
      pending: event.pending,
      pendingNames: event.pending > 0 ? event.names : undefined,
      dirty: event.dirty,
      error: event.error,
    });
  },
  'history-changed': (state, event) =>
    nextState(state, {
      status: event.pending > 0 ? 'pending' : 'done',
      pending: event.pending,
      pendingNames: undefined,
      current: undefined,
      dirty: undefined,
      failedMigration: undefined,
      mayBePartiallyApplied: undefined,
      error: undefined,
    }),
  'run-started': (state, event, now) =>
    nextState(state, {
      status: 'pending',
      pending: event.pending.length,
      pendingNames: event.pending.length > 0 ? event.pending.slice(0, LISTED_NAMES) : undefined,
      startedAt: now,
      finishedAt: undefined,
    }),
  'lock-waiting': (state, event, now) =>
    nextState(state, {
      status: 'waiting-for-lock',
      waitingSince: state.waitingSince ?? new Date(now.getTime() - event.waitedMs),
      lockHolder: event.holder ?? state.lockHolder,
    }),
  'lock-acquired': (state) => nextState(state, { waitingSince: undefined, lockHolder: undefined }),
  'migration-started': (state, event, now) => {
    return nextState(state, {
      status: 'running',
      pending: event.total - event.index + 1,
      // A run's first migration: what an earlier attempt applied is not this run's.
      ...(event.index === 1 ? { applied: [] } : {}),
      current: { name: event.migration, index: event.index, total: event.total, startedAt: now },
    });
  },
  'migration-finished': (state, event) =>
    nextState(state, {
      applied: [...state.applied, event.migration],
      pending: Math.max(0, event.total - event.index),
      current: undefined,
    }),
  'migration-failed': (state, event, now) =>
    nextState(state, {
      status: 'failed',
      failedMigration: event.migration,
      mayBePartiallyApplied: event.mayBePartiallyApplied,
      dirty: event.dirty,
      ...(event.applied ? { applied: event.applied } : {}),
      error: event.error,
      finishedAt: now,
    }),
  'migration-reverted': (state) => {
    // What is pending after a down is reported once it ends (history-changed).
    return state;
  },
  retrying: (state, event, now) =>
    nextState(state, {
      status: 'retrying',
      error: event.error,
      retry: { attempt: event.attempt, attempts: event.attempts, nextAttemptAt: new Date(now.getTime() + event.delayMs) },
    }),
  'data-source-done': (state, event, now) =>
    event.status === 'done'
      ? nextState(state, { status: 'done', pending: 0, applied: event.applied, finishedAt: now })
      : nextState(state, {
          status: 'failed',
          applied: event.applied,
          ...(event.error !== undefined ? { error: event.error } : {}),
          finishedAt: now,
        }),
};

/**
 * The state after `event`, which happened at `now`: the one place an event becomes state. Pure;
 * the status transitions themselves (what entering a status clears) are {@link nextState}'s.
 */
export function reduceState(previous: DataSourceMigrationState | undefined, event: MigrationEvent, now: Date): DataSourceMigrationState {
  const reduce = REDUCERS[event.type] as Reducer<MigrationEvent['type']>;
  return reduce(previous ?? freshState(event.dataSource, 'pending'), event, now);
}

/** How many tenants of one DataSource are in the run, done and failed: kept as they change, not counted per probe. */
export class TenantCounts {
  total = 0;
  done = 0;
  /** Failed tenants' names, in the order they failed. */
  readonly failed = new Set<string>();

  /** Up to `limit` failed tenants' names. */
  firstFailed(limit = 10): string[] {
    const names: string[] = [];
    for (const name of this.failed) {
      if (names.length === limit) break;
      names.push(name);
    }
    return names;
  }

  /** A tenant's state changed from `before` (undefined: it entered) to `after`. */
  count(name: string, before: MigrationState | undefined, after: MigrationState): void {
    if (before === undefined) this.total++;
    if (before === 'done') this.done--;
    if (before === 'failed') this.failed.delete(name);
    if (after === 'done') this.done++;
    if (after === 'failed') this.failed.add(name);
  }
}

/**
 * Every DataSource's (and tenant's) current state, folded from the migration events: written only
 * by {@link apply}, read by readiness, the operations' results and `getState()`.
 */
@Injectable()
export class MigrationStateStore {
  private readonly states = new Map<string, DataSourceMigrationState>();
  /** The DataSources' own states (no tenants), in the order they entered. */
  private readonly own = new Map<string, DataSourceMigrationState>();
  private readonly tenants = new Map<string, TenantCounts>();

  /** Folds one event into its DataSource's state. */
  apply(event: MigrationEvent, now = new Date()): DataSourceMigrationState {
    const previous = this.states.get(event.dataSource);
    const next = reduceState(previous, event, now);
    this.states.set(event.dataSource, next);
    if (!next.tenant) {
      this.own.set(next.dataSource, next);
    } else if (previous?.status !== next.status) {
      let counts = this.tenants.get(next.tenant.parent);
      if (!counts) this.tenants.set(next.tenant.parent, (counts = new TenantCounts()));
      counts.count(next.tenant.name, previous?.status, next.status);
    }
    return next;
  }

  get(dataSource: string): DataSourceMigrationState | undefined {
    return this.states.get(dataSource);
  }

  /** Every DataSource's and tenant's state, in the order they entered. */
  all(): DataSourceMigrationState[] {
    return [...this.states.values()];
  }

  /** The DataSources' own states, without their tenants'. */
  dataSources(): DataSourceMigrationState[] {
    return [...this.own.values()];
  }

  /** The tenant counts of one DataSource; undefined when it has no tenants in a run. */
  tenantCounts(dataSource: string): TenantCounts | undefined {
    return this.tenants.get(dataSource);
  }
}
