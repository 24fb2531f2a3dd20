import type { RuleVerdict } from '../check-finding.js';
import type { TableAction } from '../sql/statement-actions.js';
import { migration, type MappedAction, type RuleDefinition } from './rule-definition.js';

export const addNotNull: RuleDefinition = {
  id: 'add-not-null',
  family: 'compatibility',
  severity: 'error',
  foundWhen: 'sets NOT NULL on a column the old release maps as nullable, or adds a NOT NULL column without a default to a table it maps',
  hazard: 'its inserts and updates that leave the column empty fail (a new column: its inserts do not set it)',
  instead: 'release code that always writes it first; add the column nullable or with a default',
  mysql: 'as here',
  example: {
    unsafe: [migration('ALTER TABLE items ADD COLUMN sku text NOT NULL')],
    safe: [migration("ALTER TABLE items ADD COLUMN sku text NOT NULL DEFAULT ''")],
  },
};

/** A NOT NULL column without a default added to a table it maps, or NOT NULL set on a column it maps as nullable. */
export function addNotNullVerdict(action: TableAction, { live, entities, column }: MappedAction): RuleVerdict | undefined {
  if (action.kind === 'add-column') {
    if (!action.notNull || action.hasDefault) return undefined;
    return {
      rule: 'add-not-null',
      severity: 'error',
      column: action.column,
      message: `adds "${action.column}" NOT NULL without a default to ${live.qualified}, but ${entities}, whose inserts do not set it and fail. Add it nullable or with a default; make it NOT NULL once no running release inserts without it.`,
    };
  }
  if (action.kind !== 'set-not-null') return undefined;
  const mapped = column(action.column);
  if (!mapped || !mapped.nullable || mapped.generated) return undefined;
  return {
    rule: 'add-not-null',
    severity: 'error',
    column: action.column,
    message: `sets "${action.column}" NOT NULL, but ${entities}, with "${action.column}" as nullable: its inserts and updates that leave it empty fail. Release code that always writes it first, then the migration.`,
  };
}
