import type { RuleVerdict } from '../check-finding.js';
import type { TableAction } from '../sql/statement-actions.js';
import { rewritesForType } from '../table-facts.js';
import { migration, type MappedAction, type RuleDefinition } from './rule-definition.js';

export const changeColumnType: RuleDefinition = {
  id: 'change-column-type',
  family: 'compatibility',
  severity: 'error',
  foundWhen:
    'changes its type (not when every value stays as it was: a wider `varchar`, or a binary-coercible cast such as `varchar` to `text`)',
  hazard: 'its reads and writes of the column may fail or change meaning',
  instead: 'a new column of the new type, backfilled; the code switched over; the old column dropped later',
  mysql: 'the `COLUMN_TYPE` or collation changes, except a wider `varchar` / `varbinary` / `char` or a bigger `text` / `blob`',
  example: {
    unsafe: [migration('ALTER TABLE items ALTER COLUMN v TYPE text')],
    safe: [migration('ALTER TABLE items ALTER COLUMN code TYPE bigint')],
  },
};

/** Not when every stored value stays as it was (a wider varchar, a binary-coercible cast): the old release reads and writes it as before. */
export function changeColumnTypeVerdict(action: TableAction, { live, catalog, entities, column }: MappedAction): RuleVerdict | undefined {
  if (action.kind !== 'alter-column-type') return undefined;
  const mapped = column(action.column);
  if (!mapped || !rewritesForType(action.column, action.type, live, catalog)) return undefined;
  return {
    rule: 'change-column-type',
    severity: 'error',
    column: action.column,
    message: `changes the type of "${action.column}" (${mapped.type} in the previous release), but ${entities}, with "${action.column}": its reads and writes may fail or change meaning. Add a column of the new type, backfill it, switch the code over, and drop the old column a release later.`,
  };
}
