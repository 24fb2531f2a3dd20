import type { CheckSeverity } from './check-finding.js';
import type { TableFacts } from './table-facts.js';

/** A table at least this big (rows as estimated, or heap bytes) makes a lock hazard an error; a smaller non-empty one, a warning. */
export const LARGE_TABLE = { rows: 100_000, bytes: 100 * 1024 * 1024 } as const;

/** A lock hazard's severity on a live table, by its size: none on an empty one, a warning on a small one, an error on a large one. */
export function severityBySize(facts: TableFacts): CheckSeverity | undefined {
  if (facts.bytes === 0 && !((facts.rows ?? 0) > 0)) return undefined;
  return (facts.rows ?? 0) >= LARGE_TABLE.rows || facts.bytes >= LARGE_TABLE.bytes ? 'error' : 'warning';
}

/** A table's size as the catalog knows it: its row estimate (when analyzed) and its heap on disk. */
export function describeSize(facts: TableFacts): string {
  const bytes = facts.bytes >= 1024 * 1024 ? `${(facts.bytes / (1024 * 1024)).toFixed(1)} MiB` : `${Math.ceil(facts.bytes / 1024)} KiB`;
  if (facts.rows === undefined) return `never analyzed; ${bytes} on disk`;
  const rows = `about ${Math.round(facts.rows).toLocaleString('en-US')} rows`;
  return facts.rowsFromPages ? `${rows}, ${bytes}; never analyzed: the planner's estimate from its size` : `${rows}, ${bytes}`;
}
