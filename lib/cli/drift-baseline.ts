import type { SchemaDifference } from '../check/index.js';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import type { DataSourceStatus } from '../operations/migration-operations.js';

/** What a drift baseline file holds: the format, and per DataSource the differences accepted. */
const BASELINE_FORMAT = 'auto-migrator-drift-baseline/1';

/**
 * Today's differences, accepted once (`status --schema --write-baseline <file>`), so that
 * `status --schema --baseline <file> --strict` fails only on a new one; as `resolve
 * --accept-change` does for an edited migration. Each difference is kept as one line of text.
 */
export interface DriftBaseline {
  readonly format: typeof BASELINE_FORMAT;
  readonly dataSources: Readonly<Record<string, { readonly entities: readonly string[]; readonly history: readonly string[] }>>;
}

/** A difference between the live schema and the history, as the baseline keeps it: both sides, so a later change of either is new. */
export function differenceLine(difference: SchemaDifference): string {
  return `${difference.change} ${difference.kind} ${difference.name}: live ${difference.live ?? '-'}; history ${difference.history ?? '-'}`;
}

/** The baseline of what `statuses` show (with --schema): every entity statement and history difference of each DataSource. */
export function baselineOf(statuses: readonly DataSourceStatus[]): DriftBaseline {
  const dataSources: Record<string, { entities: string[]; history: string[] }> = {};
  for (const status of statuses) {
    if (status.tenant !== undefined) continue;
    dataSources[status.dataSource] = {
      entities: [...(status.entityDrift?.statements ?? [])],
      history: (status.historyReplay?.differences ?? []).map(differenceLine),
    };
  }
  return { format: BASELINE_FORMAT, dataSources };
}

/** Reads a baseline file's text; an AutoMigratorConfigError names what is wrong and how to write it again. */
export function parseBaseline(text: string, file: string): DriftBaseline {
  const wrong = (what: string) =>
    new AutoMigratorConfigError(
      `--baseline ${file}: ${what}. Write it again with "auto-migrator status --schema --write-baseline ${file}".`,
    );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw wrong(`not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const root = value as { format?: unknown; dataSources?: unknown } | null;
  if (root?.format !== BASELINE_FORMAT) throw wrong(`not a drift baseline of this library (format is not "${BASELINE_FORMAT}")`);
  if (typeof root.dataSources !== 'object' || root.dataSources === null) throw wrong('"dataSources" must be an object');
  const dataSources: Record<string, { entities: string[]; history: string[] }> = {};
  for (const [name, entry] of Object.entries(root.dataSources as Record<string, unknown>)) {
    const lists = entry as { entities?: unknown; history?: unknown } | null;
    const strings = (list: unknown) => Array.isArray(list) && list.every((line) => typeof line === 'string');
    if (!strings(lists?.entities) || !strings(lists?.history))
      throw wrong(`dataSources["${name}"] needs "entities" and "history", lists of strings`);
    dataSources[name] = { entities: lists!.entities as string[], history: lists!.history as string[] };
  }
  return { format: BASELINE_FORMAT, dataSources };
}

/** What a baseline accepted of one DataSource's status, and what it lists that no longer differs. */
export interface AcceptedDrift {
  readonly entities: readonly string[];
  readonly history: readonly SchemaDifference[];
  /** Lines of the baseline that no longer differ: they can be removed from it. */
  readonly gone: readonly string[];
}

/** A status as `status` shows it: with what a baseline accepted, when one was given. */
export type ShownStatus = DataSourceStatus & { readonly acceptedDrift?: AcceptedDrift };

/**
 * `statuses` with the differences `baseline` accepts taken out of `entityDrift` and
 * `historyReplay` and listed under `acceptedDrift`: what is left is new since the baseline.
 */
export function applyBaseline(statuses: readonly DataSourceStatus[], baseline: DriftBaseline): ShownStatus[] {
  return statuses.map((status) => {
    const accepted = baseline.dataSources[status.dataSource];
    if (status.tenant !== undefined || !accepted) return status;
    const entities = new Set(accepted.entities);
    const history = new Set(accepted.history);
    const drift = status.entityDrift;
    const replay = status.historyReplay;
    const acceptedEntities = drift?.statements.filter((statement) => entities.has(statement)) ?? [];
    const acceptedHistory = replay?.differences.filter((difference) => history.has(differenceLine(difference))) ?? [];
    const seen = new Set([...(drift?.statements ?? []), ...(replay?.differences ?? []).map(differenceLine)]);
    const gone = [
      ...(drift ? accepted.entities : []).filter((line) => !seen.has(line)),
      ...(replay && replay.notReplayed === undefined ? accepted.history : []).filter((line) => !seen.has(line)),
    ];
    return {
      ...status,
      ...(drift ? { entityDrift: { ...drift, statements: drift.statements.filter((statement) => !entities.has(statement)) } } : {}),
      ...(replay
        ? { historyReplay: { ...replay, differences: replay.differences.filter((difference) => !history.has(differenceLine(difference))) } }
        : {}),
      acceptedDrift: { entities: acceptedEntities, history: acceptedHistory, gone },
    };
  });
}
