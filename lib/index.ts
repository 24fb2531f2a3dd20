export { AutoMigratorModule } from './auto-migrator.module.js';
export type {
  AutoMigratorModuleAsyncOptions,
  AutoMigratorModuleExtras,
  AutoMigratorModuleSyncOptions,
  AutoMigratorOptionsFactory,
} from './auto-migrator.module-definition.js';
export { AUTO_MIGRATOR_MODULE_OPTIONS } from './auto-migrator.module-definition.js';
export { AUTO_MIGRATOR_RESOLVED_OPTIONS, DEFAULT_HEALTH_KEY, DEFAULT_RUN_MIGRATIONS_KEY } from './auto-migrator.constants.js';
export {
  AutoMigratorService,
  type MigrationReadiness,
  type MigrationReadinessDetail,
  type TenantReadiness,
} from './auto-migrator.service.js';
export type {
  AutoMigratorModuleOptions,
  DataSourceMigrationOptions,
  MigrationHistoryPolicy,
  MigrationLockOptions,
  MigrationTimeoutOptions,
  ConnectionCheckOptions,
  ResolvedConnectionCheckOptions,
  TenantLister,
  TenantMigrationOptions,
  ReadinessDetails,
  WhenDisabled,
  ResolvedLockOptions,
  MigrationRunMode,
  MigrationTransactionMode,
  ResolvedAutoMigratorOptions,
  ResolvedDataSourceOptions,
} from './options/auto-migrator-options.interface.js';
export { parseRunMigrationsFlag } from './options/run-migrations-flag.js';
export { resolveAutoMigratorOptions } from './options/resolve-options.js';
export type { DataSourceMigrationState, MigrationStatus, RunningMigration } from './state/migration-state.js';
export {
  MigrationStrategy,
  type MigrationContext,
  type MigrationRunResult,
  type PendingMigration,
  type RetryReport,
} from './strategies/migration-strategy.js';
export { FailFastStrategy } from './strategies/fail-fast.strategy.js';
export { ContinueOnFailureStrategy } from './strategies/continue-on-failure.strategy.js';
export { RecreateOnFailureStrategy } from './strategies/recreate-on-failure.strategy.js';
export { RetryStrategy, type RetryStrategyOptions } from './strategies/retry.strategy.js';
export { isConnectionError } from './strategies/connection-errors.js';
export { MigrationsHealthIndicator } from './health/migrations.health.js';
export { AutoMigratorError } from './errors/auto-migrator.error.js';
export { AutoMigratorConfigError } from './errors/auto-migrator-config.error.js';
export { MigrationLockError } from './lock/migration-lock.js';
export { MigrationFailedError } from './errors/migration-failed.error.js';
export { MigrationLockTimeoutError } from './errors/migration-lock-timeout.error.js';
export { PendingMigrationsError } from './errors/pending-migrations.error.js';
export { MigrationInterruptedError } from './errors/migration-interrupted.error.js';
export { MigrationConnectionLostError } from './errors/migration-connection-lost.error.js';
export { TenantMigrationsError } from './errors/tenant-migrations.error.js';
export { TenantSource } from './tenants/tenant-source.js';
export type { MigrationEvent, MigrationEventType } from './events/migration-events.js';
export { MigrationHistoryError } from './errors/migration-history.error.js';
export { DataSourceConnectionError } from './errors/data-source-connection.error.js';
export { MigrationDirtyError } from './errors/migration-dirty.error.js';
export type { StartedMigration } from './history/started-migrations.js';
export type { ResolvedAs, ResolveResult } from './operations/resolve-migration.js';
export type { AppliedMigration, MigrationStatusReport } from './history/migration-status.js';
export type { DataSourceStatus, OperationTarget, PlanOptions, UpResult } from './operations/migration-operations.js';
export type { RevertResult } from './operations/revert-migrations.js';
export { DRY_RUN_LIMITS, type DryRunResult, type PlannedMigration, type PlannedStatement, type PreviewLimits } from './operations/dry-run-migrations.js';
export { PreviewStoppedError } from './operations/preview-transaction.js';
export { SecretRedactor } from './util/secret-redactor.js';
