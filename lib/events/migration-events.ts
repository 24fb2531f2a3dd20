import type { TenantRef } from '../contracts/tenant-ref.js';
import type { StartedMigration } from '../contracts/migration-records.js';

/** A tenant's name and its DataSource (the DataSource name in an event is then `<DataSource>/<tenant>`). */
/** The tenant an event is about (see TenantRef). */
export type EventTenant = TenantRef;

/**
 * What happened to one DataSource (or tenant), in order: the one record of a run. The state (and
 * readiness) is folded from these events, the log is written from them, and applications
 * subscribe to them for metrics and tracing: `AutoMigratorService.events$`.
 */
export type MigrationEvent =
  /** Migrations will run for it (in this process): state `pending`. Once per DataSource or tenant and run. */
  | { readonly type: 'run-queued'; readonly dataSource: string; readonly tenant?: EventTenant }
  /** This process does not run its migrations (RUN_MIGRATIONS off, or the CLI): state `disabled`. */
  | { readonly type: 'disabled'; readonly dataSource: string }
  /** While disabled: what the database has pending (or why that could not be read); the state is then `disabled` with that count. */
  | {
      readonly type: 'pending-counted';
      readonly dataSource: string;
      readonly pending: number;
      /** The first pending migrations' names (up to 10). */
      readonly names?: readonly string[];
      readonly dirty?: StartedMigration;
      readonly error?: string;
    }
  /** After `down` or `resolve`: what is pending now (state `pending`, or `done` when nothing is). */
  | { readonly type: 'history-changed'; readonly dataSource: string; readonly pending: number }
  | {
      readonly type: 'run-started';
      readonly dataSource: string;
      readonly pending: readonly string[];
    }
  | {
      readonly type: 'lock-waiting';
      readonly dataSource: string;
      readonly holder: string | undefined;
      readonly waitedMs: number;
      /** The lock, as log lines name it. */
      readonly lock: string;
      readonly timeoutMs: number;
    }
  | { readonly type: 'lock-acquired'; readonly dataSource: string; readonly waitedMs: number; readonly lock: string }
  | {
      readonly type: 'migration-started';
      readonly dataSource: string;
      readonly migration: string;
      readonly index: number;
      readonly total: number;
    }
  | {
      readonly type: 'migration-finished';
      readonly dataSource: string;
      readonly migration: string;
      readonly durationMs: number;
      readonly index: number;
      readonly total: number;
    }
  /** `down`: one migration reverted (its down() ran, its record is gone), `index` of `total`, newest first. */
  | {
      readonly type: 'migration-reverted';
      readonly dataSource: string;
      readonly migration: string;
      readonly durationMs: number;
      readonly index: number;
      readonly total: number;
    }
  /** A failure that ends the DataSource's attempt (inside a migration when `migration` is set). */
  | {
      readonly type: 'migration-failed';
      readonly dataSource: string;
      readonly migration: string | undefined;
      readonly error: string;
      /** What this run applied and kept, when the failure changed it (a rollback of transaction mode 'all'). */
      readonly applied?: readonly string[];
      /** The failed migration ran without a transaction (or left a started marker): it may be partially applied. */
      readonly mayBePartiallyApplied?: boolean;
      /** A migration recorded as started and never finished. */
      readonly dirty?: StartedMigration;
    }
  | {
      readonly type: 'retrying';
      readonly dataSource: string;
      readonly attempt: number;
      readonly attempts: number;
      readonly delayMs: number;
      readonly error: string;
    }
  | {
      readonly type: 'data-source-done';
      readonly dataSource: string;
      readonly status: 'done' | 'failed';
      readonly applied: readonly string[];
      readonly durationMs: number;
      /** Why it failed (status `failed`), when no migration-failed event said so last. */
      readonly error?: string;
    };

/** The `type` of every event. */
export type MigrationEventType = MigrationEvent['type'];
