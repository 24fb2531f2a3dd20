import { readFile } from 'node:fs/promises';
import { acceptedFindingsOf, markAccepted, type AcceptedFinding } from './accepted-findings.js';
import { parseSnapshot, type BuildSnapshot } from './snapshot/build-snapshot.js';
import { isFailing, type CheckFinding, type UncheckedMigration } from './check-finding.js';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { DeployCheckError } from '../errors/deploy-check.error.js';
import { compatibilityFindings } from './rules/compat-rules.js';
import type { PreviousRelease } from './snapshot/build-snapshot.js';
import { lockFindings, type CheckedStatement } from './rules/lock-rules.js';
import { dataFindings } from './rules/fails-on-data.js';
import { invalidIndexFindings } from './rules/invalid-index.js';
import { notNullColumnsOf } from './rules/not-null-checks.js';
import { parseStatements } from './sql/parse-sql.js';
import { statementActions, type TableName } from './sql/statement-actions.js';
import { readCatalogFacts, readMysqlTableFacts, tableKey, typeText, type CatalogFacts } from './table-facts.js';
import { mysqlLockFindings, mysqlLockOf } from './rules/mysql-lock-rules.js';
import { isMysqlFamily } from '../history/migrations-table.js';
import type { ShadowOption } from './shadow/shadow-database.js';
import { buildMigrations } from '../plan/build-migrations.js';
import type { DataSourceMigrationRunner } from '../runner/data-source-migration.runner.js';
import { declaredTransaction, knownMigrations } from '../typeorm/migration-internals.js';
import { currentBuild, readRunningBuilds } from './snapshot/running-builds.js';
import {
  dryRunInShadow,
  dryRunMigrations,
  type DryRunResult,
  type PlannedMigration,
  type PlannedStatement,
  type PreviewLimits,
} from './dry-run/dry-run-migrations.js';

export type { CheckFinding, CheckRule, CheckSeverity, UncheckedMigration } from './check-finding.js';

/** What `check` found for one DataSource's pending migrations. */
export interface DeployCheckResult {
  readonly dataSource: string;
  /** In the order the statements would run. */
  readonly findings: readonly CheckFinding[];
  /** Pending migrations whose every statement was read. */
  readonly checked: readonly string[];
  /** Pending migrations that could not be checked, with why: never counted as safe. */
  readonly unchecked: readonly UncheckedMigration[];
  /** The previous release the migrations were held against (from a snapshot), when one was given. */
  readonly previousRelease?: { readonly build: string; readonly newestMigration?: string; readonly mapsThisDataSource: boolean };
  /** With runningBuilds: the builds recorded as booted within the window that the migrations were held against. */
  readonly runningBuilds?: readonly string[];
  /**
   * The tenant migrations of a DataSource with `tenants`, checked once on one tenant's schema (in
   * the shadow): the largest live tenant, whose tables grade the findings, and how many were listed.
   */
  readonly tenants?: { readonly checkedOn: string; readonly listed: number };
}

/**
 * How `check` runs: the dry run's limits; the previous release's snapshot to hold the migrations
 * against; and `runningBuilds` (the window, in ms) to hold them against every build recorded as
 * booted within it too (see the option runningBuilds).
 */
export interface DeployCheckSettings extends Partial<PreviewLimits> {
  readonly snapshot?: BuildSnapshot;
  readonly runningBuilds?: { readonly windowMs: number };
  /**
   * Where the dry run runs: in a shadow of the live database (see ShadowDatabase; `{}`: a temporary
   * one). Absent (deployCheck at boot): on the live database itself, holding the migrations' locks.
   */
  readonly shadow?: ShadowOption;
  /** The tenant migrations are checked apart (see checkTenants): not listed as unchecked with the DataSource's own. */
  readonly tenantsCheckedApart?: boolean;
  /** This is the check of a tenant (its runner's plan is the tenant's): what it stands for. */
  readonly tenantOf?: { readonly listed: number };
}

/**
 * Checks the pending migrations of one DataSource before they run: their real SQL, recorded by a
 * dry run (rolled back: nothing is written), is parsed by PostgreSQL's parser, and what each
 * statement does to a live table is graded by that table's size (see rules/lock-rules.ts). What it
 * cannot read (another database, a migration the dry run cannot run) is listed as unchecked.
 */
export async function checkDeploy(runner: DataSourceMigrationRunner, settings: DeployCheckSettings = {}): Promise<DeployCheckResult> {
  const { snapshot, runningBuilds, shadow, tenantsCheckedApart, tenantOf, ...limits } = settings;
  const { dataSource, dataSourceName, tenant } = runner.plan;
  const previous = previousRelease(snapshot, dataSourceName);
  const postgres = dataSource.options.type === 'postgres';
  // The builds recorded are the DataSource's: a tenant's check holds its migrations against the snapshot only.
  const running =
    runningBuilds && postgres && !tenant ? await readRunningBuilds(runner, runningBuilds.windowMs, currentBuild(dataSource).id) : [];
  const analysis = await analyzePending(
    runner,
    limits,
    shadow,
    [...(previous ? [previous] : []), ...running],
    tenantsCheckedApart === true,
  );
  return {
    dataSource: dataSourceName,
    ...(tenant && tenantOf ? { tenants: { checkedOn: tenant.name, listed: tenantOf.listed } } : {}),
    ...analysis,
    ...(runningBuilds ? { runningBuilds: running.map((release) => release.name) } : {}),
    ...(snapshot
      ? {
          previousRelease: {
            build: snapshot.build,
            ...(previous?.snapshot.newestMigration ? { newestMigration: previous.snapshot.newestMigration } : {}),
            mapsThisDataSource: previous !== undefined,
          },
        }
      : {}),
  };
}

/** The pending migrations' dry run, analysed; every pending migration it could not read is listed as unchecked, with why. */
async function analyzePending(
  runner: DataSourceMigrationRunner,
  limits: Partial<PreviewLimits>,
  shadow: ShadowOption | undefined,
  releases: readonly PreviousRelease[],
  tenantsCheckedApart: boolean,
): Promise<DryRunAnalysis> {
  const { dataSource, tenants, label } = runner.plan;
  // Without a shadow (deployCheck at boot) tenant schemas are not read: their migrations are never counted as checked.
  const reason = "a tenant migration: checked on a tenant's schema in a shadow only (check, not deployCheck at boot)";
  const tenantMigrations =
    tenants && !tenantsCheckedApart ? buildMigrations(tenants.migrations, label).map(({ name }) => ({ migration: name, reason })) : [];
  const pending = (await runner.readPending()).map((migration) => migration.name);
  if (pending.length === 0) return { findings: [], checked: [], unchecked: tenantMigrations };
  const mysql = isMysqlFamily(dataSource);
  if ((dataSource.options.type !== 'postgres' && !mysql) || (mysql && !shadow)) {
    const why = mysql
      ? `${dataSource.options.type}: its DDL commits as it runs, so check runs the pending migrations in a shadow database only (the CLI's check, or check() of the operations), never at boot`
      : `${dataSource.options.type}: check runs on PostgreSQL and MySQL/MariaDB`;
    return { findings: [], checked: [], unchecked: pending.map((migration) => ({ migration, reason: why })) };
  }
  const dryRun = shadow ? await dryRunInShadow(runner, limits, shadow, pending) : await dryRunMigrations(runner, limits);
  const analysis = await analyzeDryRun(runner, dryRun, releases);
  const stoppedAt = dryRun.migrations.at(-1);
  for (const migration of pending.slice(dryRun.migrations.length)) {
    analysis.unchecked.push({ migration, reason: `not previewed: the dry run stopped at "${stoppedAt?.name ?? '?'}"` });
  }
  analysis.unchecked.push(...tenantMigrations);
  return analysis;
}

/** What the rules find in a dry run's statements: the migrations read to their end, and those that could not be. */
export interface DryRunAnalysis {
  readonly findings: CheckFinding[];
  readonly checked: string[];
  readonly unchecked: UncheckedMigration[];
}

/**
 * The rules over a dry run of PostgreSQL migrations: its statements parsed, the catalog read for
 * the tables they touch, the lock rules (and, with the previous release, the compatibility rules)
 * applied, and what each migration accepts marked. Used by `check` and by `plan`.
 */
export async function analyzeDryRun(
  runner: DataSourceMigrationRunner,
  dryRun: DryRunResult,
  previous: readonly PreviousRelease[] = [],
): Promise<DryRunAnalysis> {
  if (isMysqlFamily(runner.plan.dataSource)) return analyzeMysqlDryRun(runner, dryRun, previous);
  const accepted = acceptances(runner, dryRun.migrations);
  const { statements, checked, unchecked } = await readStatements(
    dryRun.migrations,
    (sql) => runner.redactor.redact(sql),
    transactionsOf(runner, dryRun.migrations),
  );
  const facts = withRenames(await catalogFacts(runner, statements, previous), statements);
  const notNullChecked = new Set<string>();
  for (const table of facts.tables.values()) {
    for (const check of table.checks)
      for (const column of await notNullColumnsOf(check)) notNullChecked.add(`${table.qualified}|${column}`);
  }
  const findings = [
    ...distinct(previous.flatMap((release) => compatibilityFindings(statements, release, facts))),
    ...lockFindings(statements, { facts, notNullChecked, runLockTimeout: runner.plan.timeouts.lockTimeoutMs !== undefined }),
    ...(await dataFindings(runner.plan.dataSource, statements, facts)),
    ...invalidIndexFindings(statements, facts),
  ];
  return { findings: markAccepted(findings, accepted), checked, unchecked };
}

/**
 * The rules over a dry run of MySQL/MariaDB migrations in a shadow with the live schema: what each
 * statement did is read from the shadow's catalog and how the server runs it from its answer to
 * the probe (see MysqlStatementProbe), not from the SQL's text; the live tables' sizes are read
 * from the live catalog. A statement the server could not be asked about leaves its migration unchecked.
 */
async function analyzeMysqlDryRun(
  runner: DataSourceMigrationRunner,
  dryRun: DryRunResult,
  previous: readonly PreviousRelease[],
): Promise<DryRunAnalysis> {
  const accepted = acceptances(runner, dryRun.migrations);
  const statements: Array<CheckedStatement & { mysql?: NonNullable<PlannedStatement['mysql']> }> = [];
  const checked: string[] = [];
  const unchecked: UncheckedMigration[] = [];
  for (const migration of dryRun.migrations) {
    for (const { sql, mysql } of migration.statements)
      statements.push({
        migration: migration.name,
        sql: runner.redactor.redact(sql),
        actions: mysql?.changes ?? [],
        ...(mysql ? { mysql } : {}),
      });
    const unknown = migration.statements.findIndex(({ mysql }) => mysql?.algorithm === 'unknown');
    if (migration.error !== undefined) {
      unchecked.push({ migration: migration.name, reason: `the dry run could not run it: ${migration.error}` });
    } else if (unknown >= 0) {
      const { sql, mysql } = migration.statements[unknown]!;
      const text = runner.redactor.redact(sql).slice(0, 80);
      unchecked.push({ migration: migration.name, reason: `statement ${unknown + 1} (${text}): ${mysql?.unknownWhy ?? 'not known'}` });
    } else {
      checked.push(migration.name);
    }
  }
  const tables = [
    ...previous.flatMap((release) => release.snapshot.tables.map((table) => table.table)),
    ...statements.flatMap(({ mysql }) => mysql?.tables ?? []),
    ...statements.flatMap(({ actions }) =>
      actions.flatMap((action) => (action.kind === 'add-constraint' && action.references ? [action.references.name] : [])),
    ),
  ];
  const facts = await readMysqlTableFacts(runner.plan.dataSource, tables);
  // The compatibility and data rules read what changed; the lock is the server's answer for the statement.
  const lockOf = new Map(statements.map((statement) => [`${statement.migration}\u0000${statement.sql}`, statement.mysql]));
  const withServerLock = (finding: CheckFinding): CheckFinding => {
    const answer = lockOf.get(`${finding.migration}\u0000${finding.statement}`);
    return answer ? { ...finding, lock: mysqlLockOf(answer) } : finding;
  };
  const findings = [
    ...distinct(previous.flatMap((release) => compatibilityFindings(statements, release, facts))).map(withServerLock),
    ...mysqlLockFindings(statements, facts, runner.plan.timeouts.lockTimeoutMs !== undefined),
    ...(await dataFindings(runner.plan.dataSource, statements, facts)).map(withServerLock),
  ];
  return { findings: markAccepted(findings, accepted), checked, unchecked };
}

/** What each previewed migration accepts (its class's acceptedFindings), checked before anything is reported. */
function acceptances(runner: DataSourceMigrationRunner, migrations: readonly PlannedMigration[]): Map<string, AcceptedFinding[]> {
  const instances = new Map(knownMigrations(runner.plan.dataSource).map((migration) => [migration.name, migration.instance]));
  return new Map(migrations.map(({ name }) => [name, acceptedFindingsOf(name, instances.get(name))]));
}

/** The snapshot's entry for this DataSource: a DataSource the previous release did not have maps nothing yet. */
function previousRelease(snapshot: BuildSnapshot | undefined, dataSource: string): PreviousRelease | undefined {
  const entry = snapshot?.dataSources.find((candidate) => candidate.dataSource === dataSource);
  return snapshot && entry ? { name: `the previous release (build ${snapshot.build})`, snapshot: entry } : undefined;
}

/**
 * Which transaction of the real run each migration will run in, by the DataSource's transaction
 * mode as TypeORM applies it: 'each' one per migration, 'all' one for them all (a migration with
 * `transaction = false` between them ends it, and a new one starts after it); undefined where its
 * statements commit one by one ('none', `transaction = false`).
 */
function transactionsOf(runner: DataSourceMigrationRunner, migrations: readonly PlannedMigration[]): Map<string, number | undefined> {
  const instances = new Map(knownMigrations(runner.plan.dataSource).map((migration) => [migration.name, migration.instance]));
  const mode = runner.plan.transaction;
  const transactions = new Map<string, number | undefined>();
  let current = 0;
  for (const { name } of migrations) {
    if (mode === 'none' || declaredTransaction(instances.get(name)) === false) {
      transactions.set(name, undefined);
      current++;
    } else {
      transactions.set(name, mode === 'each' ? current++ : current);
    }
  }
  return transactions;
}

/**
 * Every statement of the previewed migrations, parsed; a migration not previewed to its end, or not
 * parsed, is unchecked (the statements a failed one sent before it failed are still judged).
 */
async function readStatements(
  migrations: readonly PlannedMigration[],
  redact: (sql: string) => string,
  transactions: ReadonlyMap<string, number | undefined>,
) {
  const statements: CheckedStatement[] = [];
  const checked: string[] = [];
  const unchecked: UncheckedMigration[] = [];
  for (const migration of migrations) {
    const own: CheckedStatement[] = [];
    const transaction = transactions.get(migration.name);
    const inTransaction = transaction === undefined ? {} : { transaction };
    let unreadable: string | undefined;
    for (const [index, recorded] of migration.statements.entries()) {
      const sql = redact(recorded.sql);
      try {
        for (const [piece, raw] of (await parseStatements(recorded.sql)).entries()) {
          // What the shadow saw belongs to the recorded statement as a whole: its first piece carries it.
          const locks = piece === 0 && recorded.locks ? { locks: recorded.locks } : {};
          own.push({ migration: migration.name, sql, ...statementActions(raw), ...locks, ...inTransaction });
        }
      } catch (error) {
        unreadable = `PostgreSQL's parser could not read statement ${index + 1} (${sql.slice(0, 80)}): ${redact(error instanceof Error ? error.message : String(error))}`;
        break;
      }
      const opaque = own.find((statement) => statement.unreadable !== undefined);
      if (opaque) {
        unreadable = `statement ${index + 1} (${sql.slice(0, 80)}): ${opaque.unreadable}`;
        break;
      }
    }
    if (migration.error !== undefined) {
      // What it sent before it failed is still judged; the migration itself is not counted as checked.
      if (unreadable === undefined) statements.push(...own);
      unchecked.push({ migration: migration.name, reason: `the dry run could not run it: ${migration.error}` });
    } else if (unreadable === undefined) {
      statements.push(...own);
      checked.push(migration.name);
    } else {
      unchecked.push({ migration: migration.name, reason: unreadable });
    }
  }
  return { statements, checked, unchecked };
}

/** What the catalog says of every table, default function and target type the statements name. */
function catalogFacts(
  runner: DataSourceMigrationRunner,
  statements: readonly CheckedStatement[],
  previous: readonly PreviousRelease[],
): Promise<CatalogFacts> {
  const tables: TableName[] = previous
    .flatMap((release) => release.snapshot.tables)
    .map((table) => ({
      ...(table.schema ? { schema: table.schema } : {}),
      name: table.table,
    }));
  const functions: string[] = [];
  const types: string[] = [];
  for (const { actions, locks, scans } of statements) {
    for (const lock of locks ?? []) if (lock.kind === 'table' && !lock.created) tables.push({ schema: lock.schema, name: lock.name });
    for (const scan of scans ?? []) tables.push(scan.table);
    for (const action of actions) {
      tables.push(action.table);
      if (action.kind === 'add-constraint' && action.references) tables.push(action.references);
      if (action.kind === 'add-column') functions.push(...action.defaultFunctions);
      if (action.kind === 'alter-column-type') types.push(typeText(action.type));
    }
  }
  // Indexes the statements name (to build on an INVALID one is a finding): the catalog is asked only when there are some.
  const indexes = statements.flatMap(({ actions }) =>
    actions.flatMap((action) =>
      action.kind === 'create-index' && action.name
        ? [action.name]
        : action.kind === 'add-constraint' && action.indexName
          ? [action.indexName]
          : [],
    ),
  );
  // A tenant's unqualified names are its schema's (its migrations run with search_path set to it).
  return readCatalogFacts(runner.plan.dataSource, tables, functions, types, indexes, runner.plan.tenant?.name);
}

/** The option `deployCheck`, resolved: whether `check` runs before migrating, against which snapshot file and which recorded builds. */
export interface DeployCheckOption {
  readonly mode: 'off' | 'warn' | 'fail';
  readonly snapshot?: string;
  readonly runningBuilds?: { readonly windowMs: number };
}

/**
 * The option `deployCheck` before a PostgreSQL DataSource migrates: `warn` logs what `check` finds
 * (and what it could not check); `fail` also refuses to migrate on an error-level finding nobody
 * accepted, with a DeployCheckError reported as the DataSource's failure (readiness shows it).
 */
export async function checkBeforeMigrating(runner: DataSourceMigrationRunner, option: DeployCheckOption): Promise<void> {
  if (option.mode === 'off' || runner.plan.dataSource.options.type !== 'postgres') return;
  const snapshot = option.snapshot === undefined ? undefined : await readSnapshotFile(runner, option.snapshot);
  const result = await checkDeploy(runner, {
    ...(snapshot ? { snapshot } : {}),
    ...(option.runningBuilds ? { runningBuilds: option.runningBuilds } : {}),
  });
  const { label } = runner.plan;
  for (const finding of result.findings) {
    const line = `${label}: deploy check: ${finding.accepted ? 'accepted' : finding.severity} ${finding.rule} on ${finding.table}: ${finding.message}`;
    if (finding.accepted) runner.logger.log(`${line} (accepted: ${finding.accepted.reason})`);
    else runner.logger.warn(line);
  }
  for (const { migration, reason } of result.unchecked) runner.logger.warn(`${label}: deploy check: ${migration} not checked: ${reason}`);
  const refusing = result.findings.filter(isFailing);
  if (option.mode === 'fail' && refusing.length > 0) throw runner.refuse(new DeployCheckError(label, runner.plan.dataSourceName, refusing));
}

/** The option's snapshot file, read and checked: one that cannot be read or is not a snapshot refuses the run, naming it. */
async function readSnapshotFile(runner: DataSourceMigrationRunner, file: string): Promise<BuildSnapshot> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const message = `AutoMigratorModule option "deployCheck.snapshot": ${file} could not be read (${runner.redactor.message(error)}); working directory: ${process.cwd()}.`;
    throw runner.refuse(new AutoMigratorConfigError(message));
  }
  try {
    return parseSnapshot(text, file);
  } catch (error) {
    throw error instanceof AutoMigratorConfigError ? runner.refuse(error) : error;
  }
}

/** One finding per statement, rule and column: the first release that breaks it names it (several old builds may map one column). */
function distinct(findings: readonly CheckFinding[]): CheckFinding[] {
  const seen = new Set<string>();
  return findings.filter((finding) => {
    const key = `${finding.migration}\u0000${finding.statement}\u0000${finding.rule}\u0000${finding.table}\u0000${finding.column ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A live table renamed by a pending statement is the same table under its new name for the statements after it. */
function withRenames(facts: CatalogFacts, statements: readonly CheckedStatement[]): CatalogFacts {
  const tables = new Map(facts.tables);
  for (const { actions } of statements) {
    for (const action of actions) {
      if (action.kind !== 'rename-table') continue;
      const live = tables.get(tableKey(action.table));
      if (live) tables.set(tableKey({ ...action.table, name: action.to }), live);
    }
  }
  return { ...facts, tables };
}
