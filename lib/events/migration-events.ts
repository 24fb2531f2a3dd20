/** Events the migrator emits, for metrics and tracing: subscribe to `AutoMigratorService.events$`. */
export type MigrationEvent =
  | { readonly type: 'run-started'; readonly dataSource: string; readonly pending: readonly string[] }
  | { readonly type: 'lock-waiting'; readonly dataSource: string; readonly holder: string | undefined; readonly waitedMs: number }
  | { readonly type: 'lock-acquired'; readonly dataSource: string; readonly waitedMs: number }
  | { readonly type: 'migration-started'; readonly dataSource: string; readonly migration: string; readonly index: number; readonly total: number }
  | { readonly type: 'migration-finished'; readonly dataSource: string; readonly migration: string; readonly durationMs: number }
  | { readonly type: 'migration-failed'; readonly dataSource: string; readonly migration: string | undefined; readonly error: string }
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
    };

/** The `type` of every event. */
export type MigrationEventType = MigrationEvent['type'];
