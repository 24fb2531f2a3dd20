import type { StartedMigration } from '../contracts/migration-records.js';
import type { ReadinessDetails } from '../options/auto-migrator-options.interface.js';
import type { DataSourceMigrationState, MigrationStateStore, TenantCounts } from '../state/migration-state.js';

/** Readiness of every configured DataSource, as reported by {@link MigrationsHealthIndicator}. */
export interface MigrationReadiness {
  readonly ready: boolean;
  readonly dataSources: Readonly<Record<string, MigrationReadinessDetail>>;
}

/** What readiness shows of one DataSource (no secrets, JSON-friendly). */
export interface MigrationReadinessDetail {
  readonly state: DataSourceMigrationState['status'];
  readonly pending?: number;
  /** With `readinessDetails: 'full'`: the first pending migrations' names (up to 10), while none runs. */
  readonly pendingMigrations?: readonly string[];
  readonly applied?: number;
  readonly running?: string;
  readonly index?: number;
  readonly total?: number;
  readonly failedMigration?: string;
  /** The failed migration ran without a transaction and may be partially applied. */
  readonly mayBePartiallyApplied?: boolean;
  /** A migration started and never finished: which, whether applied or reverted, when (ISO) and by whom (host and pid). */
  readonly dirty?: {
    readonly migration: string;
    readonly operation: 'up' | 'down';
    readonly startedAt: string;
    readonly startedBy: string;
  };
  readonly error?: string;
  /** ISO time since when this process waits for the migration lock. */
  readonly waitingSince?: string;
  /** Who holds the migration lock, as the database tells. */
  readonly lockHolder?: string;
  /** For a DataSource with tenants: how many there are, done, failed, and the first failed ones' names. */
  readonly tenants?: TenantReadiness;
  /** While retrying: the attempt that failed, of how many, and when the next one starts (ISO). */
  readonly attempt?: number;
  readonly attempts?: number;
  readonly nextAttemptAt?: string;
}

/** The tenants of one DataSource, summarised for readiness. */
export interface TenantReadiness {
  readonly total: number;
  readonly done: number;
  readonly failed: number;
  /** Pending, waiting for their lock, retrying or running. */
  readonly inProgress: number;
  /** Up to 10 failed tenants' names. */
  readonly failedTenants?: readonly string[];
}

/**
 * Readiness from the state: ready when every DataSource is done (with its tenants, unless they do
 * not affect readiness), or, while migrations are disabled, when its last count found nothing
 * pending. Costs one step per DataSource, whatever the number of tenants (their counts are kept
 * by the store).
 */
export function buildReadiness(
  store: MigrationStateStore,
  details: ReadinessDetails,
  tenantsAffectReadiness: (dataSource: string) => boolean,
): MigrationReadiness {
  const own = store.dataSources();
  let ready = own.length > 0;
  const dataSources: Record<string, MigrationReadinessDetail> = {};
  for (const state of own) {
    if (!isReady(state)) ready = false;
    const counts = store.tenantCounts(state.dataSource);
    const tenants = counts ? summarizeTenants(counts) : undefined;
    if (tenants && tenantsAffectReadiness(state.dataSource) && tenants.done < tenants.total) ready = false;
    const detail = { ...describe(state), ...(tenants ? { tenants } : {}) };
    dataSources[state.dataSource] = details === 'full' ? detail : countsOnly(detail);
  }
  return { ready, dataSources };
}

/** Done; or disabled, counted, nothing pending, and readable. */
function isReady(state: DataSourceMigrationState): boolean {
  return state.status === 'done' || (state.status === 'disabled' && state.pending === 0 && state.error === undefined);
}

function describe(state: DataSourceMigrationState): MigrationReadinessDetail {
  return {
    state: state.status,
    pending: state.pending,
    ...(state.pendingNames && state.pending > 0 ? { pendingMigrations: state.pendingNames } : {}),
    applied: state.applied.length,
    ...(state.current ? { running: state.current.name, index: state.current.index, total: state.current.total } : {}),
    ...(state.waitingSince ? { waitingSince: state.waitingSince.toISOString() } : {}),
    ...(state.lockHolder !== undefined ? { lockHolder: state.lockHolder } : {}),
    ...(state.retry
      ? { attempt: state.retry.attempt, attempts: state.retry.attempts, nextAttemptAt: state.retry.nextAttemptAt.toISOString() }
      : {}),
    ...(state.failedMigration !== undefined ? { failedMigration: state.failedMigration } : {}),
    ...(state.mayBePartiallyApplied ? { mayBePartiallyApplied: true } : {}),
    ...dirtyDetail(state.dirty),
    ...(state.error !== undefined ? { error: state.error } : {}),
  };
}

/** Readiness's `dirty`: which migration was started and never finished, when and by whom. */
function dirtyDetail(dirty: StartedMigration | undefined): Pick<MigrationReadinessDetail, 'dirty'> {
  if (!dirty) return {};
  return {
    dirty: { migration: dirty.name, operation: dirty.operation, startedAt: dirty.startedAt.toISOString(), startedBy: dirty.startedBy },
  };
}

/** `readinessDetails: 'counts'`: states and numbers only, no migration or tenant names, errors or hosts. */
function countsOnly(detail: MigrationReadinessDetail): MigrationReadinessDetail {
  const { state, pending, applied, index, total, attempt, attempts } = detail;
  const tenants = detail.tenants
    ? { total: detail.tenants.total, done: detail.tenants.done, failed: detail.tenants.failed, inProgress: detail.tenants.inProgress }
    : undefined;
  return Object.fromEntries(
    Object.entries({ state, pending, applied, index, total, attempt, attempts, tenants }).filter(([, value]) => value !== undefined),
  ) as unknown as MigrationReadinessDetail;
}

function summarizeTenants(counts: TenantCounts): TenantReadiness {
  return {
    total: counts.total,
    done: counts.done,
    failed: counts.failed.size,
    inProgress: counts.total - counts.done - counts.failed.size,
    ...(counts.failed.size > 0 ? { failedTenants: counts.firstFailed() } : {}),
  };
}
