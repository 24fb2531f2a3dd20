import type { BuildSnapshot } from '../check/build-snapshot.js';
import type { CheckFinding, UncheckedMigration } from '../check/check-finding.js';
import { compatibilityFindings, type PreviousRelease } from '../check/compat-rules.js';
import { lockFindings, typeText, type CheckedStatement } from '../check/lock-rules.js';
import { notNullColumnsOf } from '../check/not-null-checks.js';
import { parseStatements } from '../check/parse-sql.js';
import { statementActions, type TableName } from '../check/statement-actions.js';
import { readCatalogFacts, type CatalogFacts } from '../check/table-facts.js';
import type { DataSourceMigrationRunner } from '../runner/data-source-migration.runner.js';
import { dryRunMigrations, type PlannedMigration, type PreviewLimits } from './dry-run-migrations.js';

export type { CheckFinding, CheckRule, CheckSeverity, UncheckedMigration } from '../check/check-finding.js';

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
}

/** How `check` runs: the dry run's limits, and the previous release's snapshot to hold the migrations against. */
export interface DeployCheckSettings extends Partial<PreviewLimits> {
  readonly snapshot?: BuildSnapshot;
}

/**
 * Checks the pending migrations of one DataSource before they run: their real SQL, recorded by a
 * dry run (rolled back: nothing is written), is parsed by PostgreSQL's parser, and what each
 * statement does to a live table is graded by that table's size (see check/lock-rules.ts). What it
 * cannot read (another database, a migration the dry run cannot run) is listed as unchecked.
 */
export async function checkDeploy(runner: DataSourceMigrationRunner, settings: DeployCheckSettings = {}): Promise<DeployCheckResult> {
  const { snapshot, ...limits } = settings;
  const { dataSource } = runner.plan;
  const previous = previousRelease(snapshot, runner.plan.dataSourceName);
  const pending = (await runner.readPending()).map((migration) => migration.name);
  const result = (checked: string[], unchecked: UncheckedMigration[], findings: CheckFinding[] = []): DeployCheckResult => ({
    dataSource: runner.plan.dataSourceName,
    findings,
    checked,
    unchecked,
    ...(snapshot
      ? {
          previousRelease: {
            build: snapshot.build,
            ...(previous?.snapshot.newestMigration ? { newestMigration: previous.snapshot.newestMigration } : {}),
            mapsThisDataSource: previous !== undefined,
          },
        }
      : {}),
  });
  if (pending.length === 0) return result([], []);
  if (dataSource.options.type !== 'postgres') {
    const reason = `${dataSource.options.type}: check reads the SQL of a dry run with PostgreSQL's parser, which exists for PostgreSQL only`;
    return result(
      [],
      pending.map((migration) => ({ migration, reason })),
    );
  }
  const dryRun = await dryRunMigrations(runner, limits);
  const { statements, checked, unchecked } = await readStatements(dryRun.migrations, (sql) => runner.redactor.redact(sql));
  const stoppedAt = dryRun.migrations.at(-1);
  for (const migration of pending.slice(dryRun.migrations.length)) {
    unchecked.push({ migration, reason: `not previewed: the dry run stopped at "${stoppedAt?.name ?? '?'}"` });
  }
  const facts = await catalogFacts(runner, statements, previous);
  const notNullChecked = new Set<string>();
  for (const table of facts.tables.values()) {
    for (const check of table.checks)
      for (const column of await notNullColumnsOf(check)) notNullChecked.add(`${table.qualified}|${column}`);
  }
  const findings = [
    ...(previous ? compatibilityFindings(statements, previous, facts) : []),
    ...lockFindings(statements, { facts, notNullChecked, runLockTimeout: runner.plan.timeouts.lockTimeoutMs !== undefined }),
  ];
  return result(checked, unchecked, findings);
}

/** The snapshot's entry for this DataSource: a DataSource the previous release did not have maps nothing yet. */
function previousRelease(snapshot: BuildSnapshot | undefined, dataSource: string): PreviousRelease | undefined {
  const entry = snapshot?.dataSources.find((candidate) => candidate.dataSource === dataSource);
  return snapshot && entry ? { name: `the previous release (build ${snapshot.build})`, snapshot: entry } : undefined;
}

/** Every statement of the previewed migrations, parsed; a migration not previewed to its end, or not parsed, is unchecked. */
async function readStatements(migrations: readonly PlannedMigration[], redact: (sql: string) => string) {
  const statements: CheckedStatement[] = [];
  const checked: string[] = [];
  const unchecked: UncheckedMigration[] = [];
  for (const migration of migrations) {
    if (migration.error !== undefined) {
      unchecked.push({ migration: migration.name, reason: `the dry run could not run it: ${migration.error}` });
      continue;
    }
    const own: CheckedStatement[] = [];
    let unreadable: string | undefined;
    for (const [index, recorded] of migration.statements.entries()) {
      const sql = redact(recorded.sql);
      try {
        for (const raw of await parseStatements(recorded.sql)) own.push({ migration: migration.name, sql, ...statementActions(raw) });
      } catch (error) {
        unreadable = `statement ${index + 1} (${sql.slice(0, 80)}): ${redact(error instanceof Error ? error.message : String(error))}`;
        break;
      }
    }
    if (unreadable === undefined) {
      statements.push(...own);
      checked.push(migration.name);
    } else {
      unchecked.push({ migration: migration.name, reason: `PostgreSQL's parser could not read ${unreadable}` });
    }
  }
  return { statements, checked, unchecked };
}

/** What the catalog says of every table, default function and target type the statements name. */
function catalogFacts(
  runner: DataSourceMigrationRunner,
  statements: readonly CheckedStatement[],
  previous: PreviousRelease | undefined,
): Promise<CatalogFacts> {
  const tables: TableName[] = (previous?.snapshot.tables ?? []).map((table) => ({
    ...(table.schema ? { schema: table.schema } : {}),
    name: table.table,
  }));
  const functions: string[] = [];
  const types: string[] = [];
  for (const { actions } of statements) {
    for (const action of actions) {
      tables.push(action.table);
      if (action.kind === 'add-constraint' && action.references) tables.push(action.references);
      if (action.kind === 'add-column') functions.push(...action.defaultFunctions);
      if (action.kind === 'alter-column-type') types.push(typeText(action.type));
    }
  }
  return readCatalogFacts(runner.plan.dataSource, tables, functions, types);
}
