/** Injection token of the validated, frozen {@link ResolvedAutoMigratorOptions}. */
export const AUTO_MIGRATOR_RESOLVED_OPTIONS = 'AUTO_MIGRATOR:RESOLVED_OPTIONS';

/** Logger context used by every log line of the library but its progress lines. */
export const AUTO_MIGRATOR_LOGGER_CONTEXT = 'AutoMigrator';

/** Logger context of a run's periodic progress lines (the CLI shows them as one live line on a terminal). */
export const AUTO_MIGRATOR_PROGRESS_CONTEXT = 'AutoMigratorProgress';

/** Environment / ConfigService key read when `runMigrations` is not given. */
export const DEFAULT_RUN_MIGRATIONS_KEY = 'RUN_MIGRATIONS';

/** Default health key of {@link MigrationsHealthIndicator.isReady}. */
export const DEFAULT_HEALTH_KEY = 'migrations';

/** Default time a "pending migrations?" answer is reused while migrations are disabled. */
export const DEFAULT_PENDING_CHECK_TTL_MS = 5_000;

/** Default wait for the migration lock before giving up. */
export const DEFAULT_LOCK_TIMEOUT_MS = 600_000;

/** Default interval of "waiting for the migration lock" log lines. */
export const DEFAULT_LOCK_LOG_EVERY_MS = 5_000;

/** Default window within which a recorded build counts as possibly running (option `runningBuilds.windowMs`): 30 days. */
export const DEFAULT_RUNNING_BUILDS_WINDOW_MS = 30 * 24 * 60 * 60 * 1000;

/** Default interval of the migration connection check (option `connectionCheck.intervalMs`). */
export const DEFAULT_CONNECTION_CHECK_INTERVAL_MS = 5_000;

/** Default time a migration connection check may go unanswered (option `connectionCheck.timeoutMs`). */
export const DEFAULT_CONNECTION_CHECK_TIMEOUT_MS = 15_000;

/**
 * Injection token of what bootstrap does: `'run'` (default: migrate, or check while disabled) or
 * `'validate-only'` (the CLI provides it around the application's module, then runs its command).
 */
export const AUTO_MIGRATOR_BOOTSTRAP = 'AUTO_MIGRATOR:BOOTSTRAP';
export type AutoMigratorBootstrap = 'run' | 'validate-only';

/** Default interval of a run's progress lines (option `progressEveryMs`). */
export const DEFAULT_PROGRESS_EVERY_MS = 10_000;
