import type { RuleVerdict } from '../check-finding.js';
import type { TableAction } from '../sql/statement-actions.js';
import { migration, type MappedAction, type RuleDefinition } from './rule-definition.js';

export const renameColumn: RuleDefinition = {
  id: 'rename-column',
  family: 'compatibility',
  severity: 'error',
  foundWhen: 'renames the column',
  hazard: 'its queries name the old column and fail',
  instead: 'a new column written by both releases, backfilled; the code moved over; the old column dropped a release later',
  mysql: 'as here (a column gone, and one of its type appearing at its position, in one statement)',
  example: {
    unsafe: [migration('ALTER TABLE items RENAME COLUMN label TO title')],
    safe: [migration('ALTER TABLE items RENAME COLUMN code TO code_old')],
  },
};

export function renameColumnVerdict(action: TableAction, { entities, column }: MappedAction): RuleVerdict | undefined {
  if (action.kind !== 'rename-column' || !column(action.column)) return undefined;
  return {
    rule: 'rename-column',
    severity: 'error',
    column: action.column,
    message: `renames "${action.column}" to "${action.to}", but ${entities}, with "${action.column}": its queries name the old column and fail. Add the new column, write both, backfill, then drop the old one a release after the code stopped mapping it.`,
  };
}
