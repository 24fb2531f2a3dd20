/** What the layers say to each other about migrations: shared by history, the runner, errors and events. */

/** A migration known to the DataSource but not yet recorded in its migrations table. */
export interface PendingMigration {
  /** The migration's name (class name, or its `name` property), ending in a 13-digit timestamp. */
  readonly name: string;
  readonly timestamp: number;
}

/** A migration recorded as started (being applied, or reverted) whose end was not recorded. */
export interface StartedMigration {
  readonly name: string;
  /** `up`: it was being applied; `down`: it was being reverted. */
  readonly operation: 'up' | 'down';
  readonly startedAt: Date;
  /** Host and process id of the process that started it. */
  readonly startedBy: string;
  /** The transaction mode it ran in. */
  readonly transaction: string;
}

/**
 * How migrations of one DataSource are wrapped in transactions.
 * - `each`: one transaction per migration (a failure keeps the migrations before it).
 * - `all`: one transaction for the whole run (a failure rolls back every migration of the run).
 * - `none`: no transaction (a failure may leave a migration partially applied).
 */
export type MigrationTransactionMode = 'all' | 'each' | 'none';
