import { Injectable } from '@nestjs/common';
import type { StartedMigration } from '../history/started-migrations.js';

/**
 * - `disabled`: migrations are not run by this process (RUN_MIGRATIONS is off).
 * - `pending`: not started yet.
 * - `waiting-for-lock`: another process holds the migration lock; this one waits.
 * - `retrying`: an attempt failed (e.g. the database is unreachable); the strategy tries again.
 * - `running`: a migration is being applied.
 * - `done`: every migration is applied (or nothing was pending).
 * - `failed`: the strategy gave up on this DataSource.
 */
export type MigrationStatus = 'disabled' | 'pending' | 'waiting-for-lock' | 'retrying' | 'running' | 'done' | 'failed';

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
  readonly status: MigrationStatus;
  /** Migrations still pending, as last known. */
  readonly pending: number;
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
const CLEARED_ON_ENTRY: Readonly<Record<MigrationStatus, readonly StateField[]>> = {
  disabled: [],
  pending: [],
  'waiting-for-lock': ['current', 'retry'],
  retrying: ['current', 'waitingSince'],
  running: ['retry', 'waitingSince', 'lockHolder', 'error', 'failedMigration', 'mayBePartiallyApplied', 'dirty'],
  done: ['current', 'retry', 'waitingSince', 'lockHolder', 'error', 'failedMigration', 'mayBePartiallyApplied', 'dirty'],
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
  const next: { -readonly [K in keyof DataSourceMigrationState]: DataSourceMigrationState[K] } = { ...previous, ...change, dataSource: previous.dataSource };
  if (change.status !== undefined) for (const field of CLEARED_ON_ENTRY[change.status]) delete next[field];
  for (const field of Object.keys(next) as Array<keyof DataSourceMigrationState>) if (next[field] === undefined) delete next[field];
  return Object.freeze(next);
}

/** Holds the current state of every configured DataSource; written by the runner, read by health. */
@Injectable()
export class MigrationStateStore {
  private readonly states = new Map<string, DataSourceMigrationState>();

  /** Replaces the state of one DataSource with a new snapshot. */
  set(state: DataSourceMigrationState): void {
    this.states.set(state.dataSource, Object.freeze({ ...state }));
  }

  /** Updates some fields of one DataSource's state. */
  update(dataSource: string, change: Partial<Omit<DataSourceMigrationState, 'dataSource'>>): DataSourceMigrationState {
    const next = nextState(this.states.get(dataSource) ?? { dataSource, status: 'pending', pending: 0, applied: [] }, change);
    this.states.set(dataSource, next);
    return next;
  }

  get(dataSource: string): DataSourceMigrationState | undefined {
    return this.states.get(dataSource);
  }

  /** Every DataSource's state, in configuration order. */
  all(): DataSourceMigrationState[] {
    return [...this.states.values()];
  }
}
