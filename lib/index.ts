// The public API: what the README documents. Everything else in lib/ is internal.

// The module and its options
export { AutoMigratorModule } from './auto-migrator.module.js';
export type {
  AutoMigratorModuleAsyncOptions,
  AutoMigratorModuleExtras,
  AutoMigratorModuleSyncOptions,
  AutoMigratorOptionsFactory,
} from './auto-migrator.module-definition.js';
export type {
  AutoMigratorModuleOptions,
  ConnectionCheckOptions,
  DataSourceMigrationOptions,
  MigrationHistoryPolicy,
  MigrationLockOptions,
  MigrationRunMode,
  MigrationTimeoutOptions,
  ReadinessDetails,
  TenantLister,
  TenantMigrationOptions,
  WhenDisabled,
} from './options/auto-migrator-options.interface.js';
export type { MigrationLockMode } from './contracts/lock-contract.js';
export type { MigrationTransactionMode, PendingMigration, StartedMigration } from './contracts/migration-records.js';

// The service: the run's state (the word "state"), readiness, events, and the release-time operations
export { AutoMigratorService } from './auto-migrator.service.js';
export type { DataSourceMigrationState, MigrationState, RunningMigration } from './state/migration-state.js';
export type { MigrationReadiness, MigrationReadinessDetail, TenantReadiness } from './health/readiness.js';
export { MigrationsHealthIndicator } from './health/migrations.health.js';
export type { EventTenant, MigrationEvent, MigrationEventType } from './events/migration-events.js';
// What the migrations table says (the word "status"), and what the operations did
export type { AppliedMigration, MigrationStatusReport } from './history/migration-status.js';
export type { ChangedMigration, ChecksumOrigin } from './history/migration-checksums.js';
export type { EntityDrift } from './history/entity-drift.js';
export type { InvalidIndex } from './history/invalid-indexes.js';
export type {
  DataSourceStatus,
  DownOptions,
  EnsureUpOptions,
  MigrationOperationsApi,
  OperationTarget,
  PlanOptions,
  CheckOptions,
  SnapshotOptions,
  StatusOptions,
  ResolveOptions,
  UpResult,
} from './operations/migration-operations.js';
export type { RevertResult } from './operations/revert-migrations.js';
export type { ResolvedAs, ResolveResult } from './operations/resolve-migration.js';
export type {
  DryRunResult,
  PlannedMigration,
  PlannedStatement,
  PreviewLimits,
  ShadowOption,
  ObservedLock,
  CheckFinding,
  CheckRule,
  CheckSeverity,
  DeployCheckResult,
  UncheckedMigration,
  BuildSnapshot,
  DataSourceSnapshot,
  MappedColumn,
  MappedTable,
} from './check/index.js';

// Strategies, and the tenant source
export { MigrationStrategy, type MigrationContext, type MigrationRunResult, type RetryReport } from './contracts/migration-strategy.js';
export { FailFastStrategy } from './strategies/fail-fast.strategy.js';
export { ContinueOnFailureStrategy } from './strategies/continue-on-failure.strategy.js';
export { RecreateOnFailureStrategy } from './strategies/recreate-on-failure.strategy.js';
export { RetryStrategy, type RetryStrategyOptions } from './strategies/retry.strategy.js';
export { isConnectionError } from './strategies/connection-errors.js';
export { TenantSource } from './contracts/tenant-source.js';

// Errors: every one extends AutoMigratorError
export { AutoMigratorError } from './errors/auto-migrator.error.js';
export { AutoMigratorConfigError } from './errors/auto-migrator-config.error.js';
export { DataSourceConnectionError } from './errors/data-source-connection.error.js';
export { MigrationConnectionLostError } from './errors/migration-connection-lost.error.js';
export { MigrationDirtyError } from './errors/migration-dirty.error.js';
export { MigrationFailedError } from './errors/migration-failed.error.js';
export { MigrationHistoryError } from './errors/migration-history.error.js';
export { MigrationInterruptedError } from './errors/migration-interrupted.error.js';
export { MigrationLockError } from './errors/migration-lock.error.js';
export { AutoMigratorInvariantError } from './errors/invariant.error.js';
export { MigrationLockTimeoutError } from './errors/migration-lock-timeout.error.js';
export { DeployCheckError, type RefusingFinding } from './errors/deploy-check.error.js';
export { PendingMigrationsError } from './errors/pending-migrations.error.js';
export { PreviewStoppedError } from './errors/preview-stopped.error.js';
export { TenantMigrationsError } from './errors/tenant-migrations.error.js';
