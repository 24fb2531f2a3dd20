import type { CheckSeverity, RuleVerdict } from '../check-finding.js';
import type { TableAction } from '../sql/statement-actions.js';
import { rewritesForType } from '../table-facts.js';
import { migration, type LiveAction, type RuleDefinition } from './rule-definition.js';

export const tableRewrite: RuleDefinition = {
  id: 'table-rewrite',
  family: 'lock',
  severity: 'by size',
  foundWhen:
    "`ALTER COLUMN … TYPE` that rewrites (not for widening a `varchar`/`varbit` or a binary-coercible cast such as `varchar` → `text`, as the catalog's `pg_cast` says); `ADD COLUMN` with a volatile default (`gen_random_uuid()`, `random()`, `clock_timestamp()`…), `serial`, identity or stored generated; a rewrite the shadow saw (the table's file replaced)",
  hazard: '`ACCESS EXCLUSIVE` while every row and index is rewritten',
  instead:
    'a new column, backfilled in batches, the code switched over, the old column dropped a release later; a new column without the volatile default, then a default for new rows and a batched backfill',
  mysql:
    'the server refuses `ALGORITHM=INSTANT`, `NOCOPY` and `INPLACE, LOCK=NONE` on the shadow and copies the table while writes wait (`MODIFY` to another type, a foreign key with `foreign_key_checks` on): by size. An in-place rebuild with writes going on (`NOCOPY` refused, `INPLACE, LOCK=NONE` accepted: `FORCE`, a new primary key) is a warning at any size',
  example: {
    unsafe: [migration('ALTER TABLE items ALTER COLUMN code TYPE bigint')],
    safe: [migration('ALTER TABLE items ADD COLUMN code_big bigint')],
  },
};

/** A change that rewrites every row: a type change PostgreSQL cannot keep in place, a column filled row by row, SET LOGGED and the like. */
export function tableRewriteVerdict(action: TableAction, { severity, holds, facts, catalog }: LiveAction): RuleVerdict | undefined {
  switch (action.kind) {
    case 'alter-column-type':
      if (!rewritesForType(action.column, action.type, facts, catalog)) return undefined;
      return {
        rule: 'table-rewrite',
        severity,
        column: action.column,
        message:
          `${holds(`Changing the type of "${action.column}" rewrites the table and its indexes`)}. ` +
          `Add a new column, backfill it in batches, switch the code over in one release and drop the old column in the next.`,
      };
    case 'add-column': {
      const volatile = action.defaultFunctions.filter((name) => catalog.volatileFunctions.has(name));
      const why = action.rewrites ?? (volatile.length > 0 ? `its default calls ${volatile.join(', ')}, which is volatile` : undefined);
      if (!why) return undefined;
      return {
        rule: 'table-rewrite',
        severity,
        column: action.column,
        message: `${holds(`Adding "${action.column}" rewrites every row (${why})`)}. Add the column without that default, set the default for new rows, and backfill existing rows in batches.`,
      };
    }
    case 'rewrite':
      return {
        rule: 'table-rewrite',
        severity,
        message: `${holds(`${action.what} rewrites the table`)}. Do it when the table is not in use, or on a copy.`,
      };
    default:
      return undefined;
  }
}

/** A rewrite the shadow saw (the table's file replaced) that no rule above named. */
export function observedRewriteVerdict(seen: {
  qualified: string;
  size: string;
  mode: string;
  blocks: string | undefined;
  severity: CheckSeverity;
}): RuleVerdict {
  return {
    rule: 'table-rewrite',
    severity: seen.severity,
    message:
      `it rewrites ${seen.qualified} (${seen.size}; the shadow saw the table's file replaced) under ${seen.mode}, ` +
      `which blocks ${seen.blocks ?? 'other sessions'} for as long as that takes. Do it when the table is not in use, or on a copy.`,
  };
}
