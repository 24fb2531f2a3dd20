import type { MigrationInterface } from 'typeorm';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import type { CheckFinding, CheckRule } from './check-finding.js';
import { CHECK_RULES } from './rules/registry.js';

/**
 * A finding a migration declares deliberate, on its class:
 * `static acceptedFindings = [{ rule: 'drop-column', column: 'nickname', reason: 'unmapped since 1.3' }]`.
 * `table` and `column`, when given, narrow it to those (a table by its name, or schema.name).
 */
export interface AcceptedFinding {
  readonly rule: CheckRule;
  readonly table?: string;
  readonly column?: string;
  readonly reason: string;
}

/**
 * What the migration accepts (its class's `acceptedFindings`), checked: a list of `{ rule, reason,
 * table?, column? }` with a known rule and a reason, else an AutoMigratorConfigError naming the
 * migration and what to fix.
 */
export function acceptedFindingsOf(name: string, migration: MigrationInterface | undefined): AcceptedFinding[] {
  const declared: unknown = (migration?.constructor as { acceptedFindings?: unknown } | undefined)?.acceptedFindings;
  if (declared === undefined) return [];
  const wrong = (what: string) =>
    new AutoMigratorConfigError(
      `Migration "${name}": static acceptedFindings ${what}. Give a list of { rule, reason, table?, column? }, rule one of ${CHECK_RULES.join(', ')}.`,
    );
  if (!Array.isArray(declared)) throw wrong('is not a list');
  return declared.map((entry: unknown, index) => {
    const item = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    if (!CHECK_RULES.includes(item['rule'] as CheckRule)) throw wrong(`[${index}] names no rule (rule: ${JSON.stringify(item['rule'])})`);
    if (typeof item['reason'] !== 'string' || item['reason'].trim() === '') throw wrong(`[${index}] has no reason: say why it is safe`);
    for (const key of ['table', 'column'] as const) {
      if (item[key] !== undefined && typeof item[key] !== 'string') throw wrong(`[${index}].${key} is not a string`);
    }
    const { rule, reason, table, column } = item as { rule: CheckRule; reason: string; table?: string; column?: string };
    return { rule, reason, ...(table === undefined ? {} : { table }), ...(column === undefined ? {} : { column }) };
  });
}

/** The findings, each marked accepted with its reason where its migration accepts it. */
export function markAccepted(findings: readonly CheckFinding[], accepted: ReadonlyMap<string, readonly AcceptedFinding[]>): CheckFinding[] {
  return findings.map((finding) => {
    const match = (accepted.get(finding.migration) ?? []).find(
      (entry) =>
        entry.rule === finding.rule &&
        (entry.table === undefined ||
          [finding.table, unquoted(finding.table)].some((table) => table === entry.table || table.endsWith(`.${entry.table}`))) &&
        (entry.column === undefined || entry.column === finding.column),
    );
    return match ? { ...finding, accepted: { reason: match.reason } } : finding;
  });
}

/** A table as the catalog formats it (`public."user"`), without SQL's quotes (`public.user`), as a migration names it. */
function unquoted(table: string): string {
  return table.replace(/"((?:[^"]|"")*)"/g, (_quoted, name: string) => name.replaceAll('""', '"'));
}
