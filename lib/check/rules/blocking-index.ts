import type { RuleVerdict } from '../check-finding.js';
import type { TableAction } from '../sql/statement-actions.js';
import { migration, withoutTransaction, type LiveAction, type RuleDefinition } from './rule-definition.js';

export const blockingIndex: RuleDefinition = {
  id: 'blocking-index',
  family: 'lock',
  severity: 'by size',
  foundWhen: '`CREATE INDEX` without `CONCURRENTLY`; `ADD CONSTRAINT … UNIQUE / PRIMARY KEY` (builds its index)',
  hazard: '`SHARE`: writes (`ACCESS EXCLUSIVE` for the constraint: everything) for the whole build',
  instead:
    '`CREATE INDEX CONCURRENTLY` in a migration of its own with `transaction = false`; for a constraint, build the unique index that way and `ADD CONSTRAINT … USING INDEX`',
  mysql:
    'not found: MySQL/MariaDB build an index with writes going on (the server accepts `ALGORITHM=NOCOPY, LOCK=NONE`); a FULLTEXT or SPATIAL index, which needs `LOCK=SHARED`, is a `blocking-lock`',
  example: {
    unsafe: [migration('CREATE INDEX items_label ON items (label)')],
    safe: [withoutTransaction('CREATE INDEX CONCURRENTLY items_label ON items (label)')],
  },
};

/** An index built while the table waits: CREATE INDEX without CONCURRENTLY, or a key or exclusion constraint that builds its own. */
export function blockingIndexVerdict(action: TableAction, { severity, holds }: LiveAction): RuleVerdict | undefined {
  if (action.kind === 'create-index') {
    if (action.concurrent) return undefined;
    return {
      rule: 'blocking-index',
      severity,
      message: `${holds('Building the index')}. Use CREATE ${action.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY in a migration of its own with \`transaction = false\`.`,
    };
  }
  if (action.kind !== 'add-constraint' || action.usingIndex) return undefined;
  if (action.constraint !== 'unique' && action.constraint !== 'primary-key' && action.constraint !== 'exclusion') return undefined;
  const index =
    action.constraint === 'exclusion'
      ? 'the exclusion constraint'
      : `a ${action.constraint === 'unique' ? 'unique' : 'primary key'} constraint`;
  return {
    rule: 'blocking-index',
    severity,
    message:
      `${holds(`Adding ${index} builds its index`)}. ` +
      (action.constraint === 'exclusion'
        ? 'Build it when the table is not in use, or on a copy.'
        : `Build the index first with CREATE UNIQUE INDEX CONCURRENTLY (its own migration, \`transaction = false\`), then ADD CONSTRAINT … ${action.constraint === 'unique' ? 'UNIQUE' : 'PRIMARY KEY'} USING INDEX.`),
  };
}
