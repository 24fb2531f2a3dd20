import {
  isFailing,
  type HistoryReplay,
  type CheckFinding,
  type ObservedLock,
  type BuildSnapshot,
  type DeployCheckResult,
  type DryRunResult,
} from '../check/index.js';
import { judgeHistory, STRICT_HISTORY } from '../history/history-policy.js';
import type { EntityDrift } from '../history/entity-drift.js';
import type { AcceptedDrift, ShownStatus } from './drift-baseline.js';
import type { ChangedMigration } from '../history/migration-checksums.js';
import { plural } from '../util/quantities.js';
import type { DataSourceStatus, UpResult } from '../operations/migration-operations.js';
import type { ResolveResult } from '../operations/resolve-migration.js';
import type { RevertResult } from '../operations/revert-migrations.js';
import { listNames } from '../util/name-list.js';
import { dataSourceLabel } from '../util/data-source-label.js';

/**
 * What `--json` prints on stdout, one document whatever the command: `dataSources` holds one entry
 * per DataSource (and tenant), shaped by the command; `error` is set when it failed.
 */
export interface CliJsonResult {
  readonly command: string;
  /** True when the exit code is 0. */
  readonly ok: boolean;
  readonly exitCode: number;
  /** The whole command, connecting included, in whole milliseconds. */
  readonly durationMs: number;
  readonly dataSources: readonly object[];
  readonly error?: {
    readonly name: string;
    readonly message: string;
    /** PendingMigrationsError: every pending name per DataSource (`<DataSource>/<tenant>` for a tenant). */
    readonly pending?: Readonly<Record<string, readonly string[]>>;
    /** MigrationDirtyError: the migrations started and never finished. */
    readonly dirty?: readonly object[];
    /** MigrationHistoryError: the migrations the history policies refused. */
    readonly changed?: readonly string[];
    readonly unknown?: readonly string[];
    readonly outOfOrder?: readonly string[];
  };
  /** `status --strict`: what made the exit code 1, one line each. */
  readonly strict?: readonly string[];
}

/**
 * What `status --strict` fails on, one line per DataSource (or tenant) that has any: the migrations
 * table not fitting the build in any way (changed, unknown, out of order: each history policy as
 * 'fail'), a migration started and never finished, an INVALID index. Pending alone is no problem.
 */
export function strictStatusProblems(statuses: readonly DataSourceStatus[]): string[] {
  const problems: string[] = [];
  for (const status of statuses) {
    const label = dataSourceLabel(status.dataSource, status.tenant);
    const { error } = judgeHistory(status, STRICT_HISTORY, label, status.dataSource, status.tenant !== undefined);
    if (error) problems.push(error.message);
    if (status.dirty.length > 0)
      problems.push(`${label}: started and never finished (dirty): ${listNames(status.dirty.map((migration) => migration.name))}`);
    const invalid = status.invalidIndexes ?? [];
    const drift = status.entityDrift?.statements.length ?? 0;
    if (drift > 0)
      problems.push(`${label}: the live schema differs from the entities: a generated migration would hold ${plural(drift, 'statement')}`);
    const replay = status.historyReplay;
    if (replay?.notReplayed !== undefined) problems.push(`${label}: the history could not be replayed: ${replay.notReplayed}`);
    else if (replay && replay.differences.length > 0)
      problems.push(`${label}: the live schema differs from what the history builds in ${plural(replay.differences.length, 'place')}`);
    if (invalid.length > 0)
      problems.push(`${label}: INVALID ${invalid.length === 1 ? 'index' : 'indexes'}: ${listNames(invalid.map((index) => index.index))}`);
  }
  return problems;
}

/** The status of every DataSource as a readable table. */
export function formatStatus(statuses: readonly ShownStatus[]): string {
  const lines: string[] = [];
  for (const status of statuses) {
    lines.push(
      `${dataSourceLabel(status.dataSource, status.tenant)}: ${status.applied.length} applied, ${status.pending.length} pending, ${status.unknown.length} unknown` +
        (status.dirty.length > 0 ? `, ${status.dirty.length} dirty (started and never finished: repair, then "resolve")` : '') +
        (status.changed.length > 0 ? `, ${status.changed.length} changed since applied (see "resolve --accept-change")` : '') +
        (status.missingDatabaseFile
          ? ` (the SQLite database file ${status.missingDatabaseFile} does not exist yet; nothing was created)`
          : ''),
    );
    const dirty = new Map(status.dirty.map((m) => [m.name, m]));
    const changed = new Map(status.changed.map((m) => [m.name, m]));
    const rows: string[][] = [
      ...status.applied.map((m) => [appliedState(changed.get(m.name)), `#${m.order}`, isoTime(m.timestamp), m.name]),
      ...status.pending.map((m) => {
        const started = dirty.get(m.name);
        const state = started
          ? `dirty (${started.operation === 'down' ? 'revert' : 'up'} started ${started.startedAt.toISOString()} by ${started.startedBy})`
          : status.outOfOrder.some((o) => o.name === m.name)
            ? 'pending (out of order)'
            : 'pending';
        return [state, '', isoTime(m.timestamp), m.name];
      }),
      ...status.unknown.map((m) => ['unknown (not in this build)', `#${m.order}`, isoTime(m.timestamp), m.name]),
    ];
    lines.push(...columns(rows).map((row) => `  ${row}`));
    for (const index of status.invalidIndexes ?? []) {
      lines.push(
        `  INVALID index ${index.index} on ${index.table} (an interrupted CREATE INDEX CONCURRENTLY): remove it with ${index.drop}`,
      );
    }
    if (status.entityDrift) lines.push(...entityDriftLines(status.entityDrift));
    if (status.historyReplay) lines.push(...historyReplayLines(status.historyReplay));
    if (status.acceptedDrift) lines.push(...acceptedLines(status.acceptedDrift));
  }
  return lines.join('\n');
}

/** `status --schema`: the entities against the live schema, and the statements a generated migration would hold. */
function entityDriftLines({ entities, statements, notCompared }: EntityDrift): string[] {
  if (notCompared !== undefined) return [`  entities: not compared: ${notCompared}`];
  if (entities === 0) return ['  entities: none mapped, nothing to compare'];
  if (statements.length === 0) return [`  entities: ${plural(entities, 'entity')} mapped; the live schema has what they map`];
  return [
    `  entities: ${plural(entities, 'entity')} mapped; the live schema differs: a generated migration (typeorm migration:generate) would hold ` +
      `${plural(statements.length, 'statement')}:`,
    ...statements.map((statement) => `    ${statement};`),
  ];
}

/** `status --schema --replay`: the history against the live schema, each difference with both sides. */
function historyReplayLines(replay: HistoryReplay): string[] {
  const where = replay.shadow ? ` in ${replay.shadow}` : '';
  if (replay.notReplayed !== undefined)
    return [`  history: not replayed${where} (${plural(replay.replayed, 'migration')} ran): ${replay.notReplayed}`];
  const others = replay.schemasNotCompared
    ? ` (${plural(replay.schemasNotCompared, 'other schema')} the history does not build, not compared)`
    : '';
  const head = `  history: ${plural(replay.replayed, 'applied migration')} replayed${where} in ${(replay.durationMs / 1000).toFixed(1)} s${others}`;
  if (replay.differences.length === 0) return [`${head}; the live schema is what they build`];
  return [
    `${head}; the live schema differs from what they build in ${plural(replay.differences.length, 'place')}:`,
    ...replay.differences.map((difference) => {
      const what = `${difference.kind}${difference.label ? ` ${difference.label}` : ''} ${difference.name}`;
      const detail = (text: string | undefined) => (text ? `: ${text}` : '');
      return difference.change === 'added'
        ? `    added   ${what}${detail(difference.live)} (live only; no migration builds it)`
        : difference.change === 'missing'
          ? `    missing ${what}${detail(difference.history)} (the history builds it; the live schema lacks it)`
          : `    changed ${what}: live ${difference.live}; the history builds ${difference.history}`;
    }),
  ];
}

/** `status --schema --baseline`: what the baseline accepted, and what it lists that no longer differs. */
function acceptedLines({ entities, history, gone }: AcceptedDrift): string[] {
  const lines: string[] = [];
  if (entities.length + history.length > 0) {
    lines.push(
      `  accepted by the baseline: ${plural(entities.length, 'entity statement')}, ${plural(history.length, 'history difference')} (not counted by --strict)`,
    );
  }
  for (const line of gone) lines.push(`  no longer differs (remove it from the baseline): ${line}`);
  return lines;
}

/** An applied migration's state: changed when its up() differs from the one its checksum was recorded for. */
function appliedState(changed: ChangedMigration | undefined): string {
  if (!changed) return 'applied';
  const when =
    changed.recordedAs === 'applied'
      ? `applied ${changed.recordedAt.toISOString()}`
      : `${changed.recordedAs} ${changed.recordedAt.toISOString()}`;
  return `applied, CHANGED since (checksum recorded ${when}: ${changed.recorded.slice(0, 15)}…, now ${changed.current.slice(0, 15)}…)`;
}

export function formatUp(results: readonly UpResult[]): string {
  return results
    .map(
      (result) =>
        `${dataSourceLabel(result.dataSource, result.tenant)}: ${result.status}, ${result.applied.length} applied${result.applied.length ? `: ${listNames(result.applied)}` : ''}` +
        (result.error ? `\n  ${result.error}` : ''),
    )
    .join('\n');
}

export function formatDown(result: RevertResult): string {
  return `${dataSourceLabel(result.dataSource, result.tenant)}: ${result.reverted.length} reverted${result.reverted.length ? `: ${listNames(result.reverted)}` : ''}`;
}

export function formatResolve(result: ResolveResult): string {
  const label = dataSourceLabel(result.dataSource);
  if (result.resolvedAs === 'change-accepted' && result.tenants) {
    const { accepted, notApplied } = result.tenants;
    return (
      `${label}: ${result.migration}: change accepted in ${plural(accepted.length, 'tenant')}` +
      (notApplied.length > 0 ? `; not applied (nothing to accept) in ${plural(notApplied.length, 'tenant')}: ${listNames(notApplied)}` : '')
    );
  }
  if (result.resolvedAs === 'change-accepted') {
    const previous = result.checksum?.previous;
    return `${label}: ${result.migration}: change accepted; its checksum is now ${result.checksum?.accepted}${previous ? ` (was ${previous})` : ' (it had not changed)'}`;
  }
  const started = result.started!;
  return (
    `${label}: ${result.migration} resolved as ${result.resolvedAs === 'applied' ? 'applied' : 'not applied (up runs it again)'}; ` +
    `it was started ${started.startedAt.toISOString()} by ${started.startedBy}`
  );
}

/** The dry run as an SQL script with comments. */
export function formatPlan(results: readonly DryRunResult[]): string {
  const lines: string[] = [];
  for (const result of results) {
    lines.push(`-- ${dataSourceLabel(result.dataSource)}: ${result.pending} pending migration(s), dry run (rolled back)`);
    for (const migration of result.migrations) {
      lines.push(`-- ${migration.name}`);
      for (const statement of migration.statements) {
        lines.push(
          `${statement.sql.trim().replace(/;$/, '')};${statement.parameters ? ` -- parameters: ${JSON.stringify(statement.parameters)}` : ''}`,
        );
        const live = (statement.locks ?? []).filter((lock) => !lock.created && lock.kind === 'table');
        if (live.length > 0) lines.push(`--   in the shadow: ${live.map(describeLock).join('; ')}`);
      }
      if (migration.error) lines.push(`-- stopped here: ${migration.error}`);
    }
    for (const finding of result.findings ?? []) lines.push(...findingLines(finding, '-- '));
    if (!result.complete)
      lines.push(
        `-- INCOMPLETE: ${result.migrations.length} of ${result.pending} previewed; the migrations after the one it stopped at were not run`,
      );
  }
  return lines.join('\n');
}

/** A lock the shadow saw on a live table: `SHARE on public.users`, `ACCESS EXCLUSIVE on public.users (rewritten)`. */
function describeLock(lock: ObservedLock): string {
  return `${lock.mode} on ${lock.schema}.${lock.name}${lock.rewritten ? ' (rewritten)' : ''}`;
}

/** `check`: each finding with its rule, table and safe alternative; then what could not be checked. */
export function formatCheck(results: readonly DeployCheckResult[], strict: boolean): string {
  const lines: string[] = [];
  for (const result of results) {
    const errors = result.findings.filter(isFailing).length;
    const accepted = result.findings.filter((finding) => finding.accepted).length;
    const warnings = result.findings.length - errors - accepted;
    const tenants = result.tenants
      ? `, tenant migrations (checked on tenant "${result.tenants.checkedOn}", the largest of ${result.tenants.listed})`
      : '';
    lines.push(
      `${dataSourceLabel(result.dataSource)}${tenants}: ${plural(result.checked.length, 'pending migration')} checked, ` +
        `${plural(errors, 'error')}, ${plural(warnings, 'warning')}, ${accepted} accepted, ${result.unchecked.length} not checked`,
    );
    if (result.previousRelease) {
      const { build, newestMigration, mapsThisDataSource } = result.previousRelease;
      lines.push(
        mapsThisDataSource
          ? `  held against the previous release: build ${build}${newestMigration ? ` (newest migration ${newestMigration})` : ''}`
          : `  the snapshot of build ${build} has no DataSource "${result.dataSource}": nothing of it was compared`,
      );
    }
    if (result.runningBuilds) {
      lines.push(
        result.runningBuilds.length > 0
          ? `  held against ${plural(result.runningBuilds.length, 'recorded build')}: ${result.runningBuilds.join('; ')}`
          : '  no other build recorded as booted within the window',
      );
    }
    for (const finding of result.findings) lines.push(...findingLines(finding, '  '));
    for (const { migration, reason } of result.unchecked) {
      lines.push(`  NOT CHECKED ${migration}: ${reason}${strict ? ' (fails with --strict)' : ''}`);
    }
  }
  return lines.join('\n');
}

/** `snapshot`: what was written, per DataSource. */
export function formatSnapshot(snapshot: BuildSnapshot, file: string): string {
  const lines = snapshot.dataSources.map((entry) => {
    const columns = entry.tables.reduce((sum, table) => sum + table.columns.length, 0);
    const newest = entry.newestMigration ? `; newest migration ${entry.newestMigration}` : '';
    return `${dataSourceLabel(entry.dataSource)}: ${plural(entry.tables.length, 'table')}, ${plural(columns, 'column')} mapped${newest}`;
  });
  return [...lines, `Snapshot of build ${snapshot.build} written to ${file}`].join('\n');
}

/** A finding as `check` and `plan` print it: its level, rule, table, message and statement. */
function findingLines(finding: CheckFinding, indent: string): string[] {
  const level = finding.accepted ? `ACCEPTED (${finding.accepted.reason})` : finding.severity.toUpperCase();
  const where = `${finding.table}${finding.column ? `."${finding.column}"` : ''}`;
  return [
    `${indent}${level} ${finding.rule} (${where}): ${finding.message}`,
    `${indent}  ${finding.statement.trim().replace(/\s+/g, ' ').slice(0, 200)}`,
  ];
}

function isoTime(timestamp: number): string {
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? String(timestamp) : date.toISOString();
}

function columns(rows: string[][]): string[] {
  const widths = rows.reduce<number[]>((w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), []);
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '));
}
