/** Injection token of the validated, frozen {@link ResolvedAutoMigratorOptions}. */
export const AUTO_MIGRATOR_RESOLVED_OPTIONS = 'AUTO_MIGRATOR:RESOLVED_OPTIONS';

/** Logger context used by every log line of the library. */
export const AUTO_MIGRATOR_LOGGER_CONTEXT = 'AutoMigrator';

/** Environment / ConfigService key read when `runMigrations` is not given. */
export const DEFAULT_RUN_MIGRATIONS_KEY = 'RUN_MIGRATIONS';

/** Default health key of {@link MigrationsHealthIndicator.isReady}. */
export const DEFAULT_HEALTH_KEY = 'migrations';

/** Default time a "pending migrations?" answer is reused while migrations are disabled. */
export const DEFAULT_PENDING_CHECK_TTL_MS = 5_000;
