import type { RuleVerdict } from '../check-finding.js';
import type { TableAction } from '../sql/statement-actions.js';
import { migration, type MappedAction, type RuleDefinition } from './rule-definition.js';

export const addConstraint: RuleDefinition = {
  id: 'add-constraint',
  family: 'compatibility',
  severity: 'warning',
  foundWhen:
    'adds a check, unique, primary key, exclusion or foreign key constraint (`NOT VALID` too: new rows are checked at once) over columns it writes: columns it maps that existed before the pending run (not a column the same run adds, not one it does not map; not a constraint the run drops and adds again under the same name)',
  hazard: 'its writes that break the constraint fail during the rollout',
  instead: 'make sure the previous release writes only rows that satisfy it',
  mysql: "a foreign key (a unique index is checked against today's rows: `fails-on-data`)",
  example: {
    unsafe: [migration("ALTER TABLE items ADD CONSTRAINT items_label_set CHECK (label <> '') NOT VALID")],
    safe: [migration('ALTER TABLE items ADD CONSTRAINT items_code_positive CHECK (code > 0) NOT VALID')],
  },
};

/** Only over columns the previous release writes: it maps them, and they existed before the pending run. */
export function addConstraintVerdict(action: TableAction, { live, release, table, column }: MappedAction): RuleVerdict | undefined {
  if (action.kind !== 'add-constraint') return undefined;
  const written = action.columns.filter((name) => column(name) !== undefined && live.columns.has(name));
  if (action.columns.length > 0 && written.length === 0) return undefined;
  const on = written.length > 0 ? ` on ${written.map((name) => `"${name}"`).join(', ')}` : '';
  return {
    rule: 'add-constraint',
    severity: 'warning',
    ...(written.length === 1 ? { column: written[0] } : {}),
    message:
      `adds a ${action.constraint.replace('-', ' ')} constraint${on} to ${live.qualified}, which ${release} writes (its ${table.entities.join(', ')} map it): ` +
      `its writes may violate it and fail during the rollout. Make sure the previous release already writes only rows that satisfy it.`,
  };
}
