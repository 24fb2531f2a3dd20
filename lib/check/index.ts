/**
 * `check` and `plan`, one feature: the pending migrations' dry run (in a shadow of the live database
 * on PostgreSQL), their SQL read by PostgreSQL's parser, the rules that grade what it does to the
 * live tables and to the previous release, and the snapshots of what a build maps. What the rest of
 * the library uses of it is here, and only here.
 */
export { analyzeDryRun, checkBeforeMigrating, checkDeploy } from './deploy-check.js';
export type { DeployCheckOption, DeployCheckResult, DeployCheckSettings } from './deploy-check.js';
export { isFailing } from './check-finding.js';
export { largestSchema } from './table-facts.js';
export type { CheckFinding, CheckRule, CheckSeverity, UncheckedMigration } from './check-finding.js';
export { dryRunInShadow, dryRunMigrations, redactedDryRun } from './dry-run/dry-run-migrations.js';
export type { DryRunResult, PlannedMigration, PlannedStatement, PreviewLimits } from './dry-run/dry-run-migrations.js';
export { closeOpenShadows } from './shadow/shadow-database.js';
export type { ShadowOption } from './shadow/shadow-database.js';
export type { ObservedLock } from './shadow/observed-locks.js';
export { buildSnapshot, snapshotDataSource } from './snapshot/entity-snapshot.js';
export type { BuildSnapshot, DataSourceSnapshot, MappedColumn, MappedTable } from './snapshot/entity-snapshot.js';
export { parseSnapshot } from './snapshot/build-snapshot.js';
export { recordRunningBuild } from './snapshot/running-builds.js';
export { replayInShadow } from './replay/history-replay.js';
export type { HistoryReplay, ReplayOption } from './replay/history-replay.js';
export type { SchemaDifference } from './replay/schema-catalog.js';
