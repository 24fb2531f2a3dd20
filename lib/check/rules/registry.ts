import type { CheckRule } from '../check-finding.js';
import type { MappedTable } from '../snapshot/entity-tables.js';
import { addConstraint } from './add-constraint.js';
import { addNotNull } from './add-not-null.js';
import { blockingIndex } from './blocking-index.js';
import { blockingLock } from './blocking-lock.js';
import { changeColumnType } from './change-column-type.js';
import { dropColumn } from './drop-column.js';
import { dropDefault } from './drop-default.js';
import { dropTable } from './drop-table.js';
import { failsOnData } from './fails-on-data.js';
import { invalidIndex } from './invalid-index.js';
import { longHeldLock } from './long-held-lock.js';
import { noLockTimeout } from './no-lock-timeout.js';
import { renameColumn } from './rename-column.js';
import { renameTable } from './rename-table.js';
import type { RuleDefinition } from './rule-definition.js';
import { setNotNullScan } from './set-not-null-scan.js';
import { tableRewrite } from './table-rewrite.js';
import { unvalidatedConstraint } from './unvalidated-constraint.js';

export type { ExampleMigration, RuleDefinition } from './rule-definition.js';

/** Every rule of `check` by its id: the type holds that none is left out. */
const BY_ID: Readonly<Record<CheckRule, RuleDefinition>> = {
  'blocking-index': blockingIndex,
  'blocking-lock': blockingLock,
  'unvalidated-constraint': unvalidatedConstraint,
  'table-rewrite': tableRewrite,
  'set-not-null-scan': setNotNullScan,
  'long-held-lock': longHeldLock,
  'no-lock-timeout': noLockTimeout,
  'drop-table': dropTable,
  'drop-column': dropColumn,
  'rename-table': renameTable,
  'rename-column': renameColumn,
  'change-column-type': changeColumnType,
  'add-not-null': addNotNull,
  'drop-default': dropDefault,
  'add-constraint': addConstraint,
  'fails-on-data': failsOnData,
  'invalid-index': invalidIndex,
};

/** Every rule of `check`, in the order the guide lists them. */
export const RULES: readonly RuleDefinition[] = Object.values(BY_ID);

/** Every rule's id, for checking what a migration accepts. */
export const CHECK_RULES: readonly CheckRule[] = RULES.map((rule) => rule.id);

/**
 * The live tables the rules' examples run against: `items` (2,000 rows, an index on `v`; `label`
 * NULL in two rows), `kinds`, and `legacy`, which the previous release does not map, with an
 * INVALID unique index (a statement marked `fails` is expected to fail, leaving it).
 */
export const RULE_EXAMPLE_SCHEMA: ReadonlyArray<string | { readonly sql: string; readonly fails: true }> = [
  'CREATE TABLE kinds (id int PRIMARY KEY)',
  'INSERT INTO kinds SELECT generate_series(0, 9)',
  'CREATE TABLE items (id int PRIMARY KEY, v int DEFAULT 0, label text, code int, kind int REFERENCES kinds (id))',
  `INSERT INTO items SELECT g, g % 1000, CASE WHEN g <= 2 THEN NULL ELSE 'item ' || g END, g, g % 10 FROM generate_series(1, 2000) AS g`,
  'CREATE INDEX items_v ON items (v)',
  'CREATE TABLE legacy (id int PRIMARY KEY, note text)',
  `INSERT INTO legacy SELECT g, CASE WHEN g <= 2 THEN 'twice' END FROM generate_series(1, 10) AS g`,
  // Fails over the repeated note, and leaves legacy_note_unique INVALID: what an interrupted build leaves.
  { sql: 'CREATE UNIQUE INDEX CONCURRENTLY legacy_note_unique ON legacy (note)', fails: true },
];

/** What the previous release of the examples maps: `items` without `code`, and `kinds`. */
export const RULE_EXAMPLE_PREVIOUS_RELEASE: readonly MappedTable[] = [
  {
    table: 'items',
    entities: ['Item'],
    columns: [
      { name: 'id', type: 'integer', nullable: false, generated: false },
      { name: 'v', type: 'integer', nullable: true, default: '0', generated: false },
      { name: 'label', type: 'text', nullable: true, generated: false },
      { name: 'kind', type: 'integer', nullable: true, generated: false },
    ],
  },
  { table: 'kinds', entities: ['Kind'], columns: [{ name: 'id', type: 'integer', nullable: false, generated: false }] },
];
