import type { TableAction, TableName } from './statement-actions.js';

/** A column as MySQL/MariaDB's `information_schema.COLUMNS` describes it. */
export interface MysqlColumn {
  readonly table: string;
  readonly name: string;
  readonly position: number;
  /** `COLUMN_TYPE`, lower case: `varchar(50)`, `int(11) unsigned`. */
  readonly type: string;
  readonly nullable: boolean;
  /** `COLUMN_DEFAULT` as the catalog prints it; null: none (MariaDB prints a NULL default as the text `NULL`). */
  readonly default: string | null;
  /** Filled by the server (auto_increment, a generated column): the application does not insert it. */
  readonly generated: boolean;
  readonly collation: string | null;
}

/** An index as `information_schema.STATISTICS` describes it, its columns in order (a prefix index: not plain columns). */
export interface MysqlIndex {
  readonly table: string;
  readonly name: string;
  readonly unique: boolean;
  readonly columns: readonly string[];
  /** Some key part is a prefix or an expression: not a plain list of columns. */
  readonly partial: boolean;
}

/** A foreign key as `information_schema.KEY_COLUMN_USAGE` describes it. */
export interface MysqlForeignKey {
  readonly table: string;
  readonly name: string;
  readonly columns: readonly string[];
  readonly references: string;
  readonly referencedColumns: readonly string[];
}

/** The tables a statement names, as the shadow's catalog describes them at one moment. */
export interface MysqlTablesState {
  readonly columns: readonly MysqlColumn[];
  readonly indexes: readonly MysqlIndex[];
  readonly foreignKeys: readonly MysqlForeignKey[];
}

/**
 * The lock a change read from the catalog is reported under, for the compatibility rules (which
 * read only what changed): the lock MySQL takes is the server's answer to the probe, and replaces
 * it in the finding (see analyzeMysqlDryRun).
 */
const CATALOG_CHANGE_LOCK = 'ACCESS EXCLUSIVE' as const;

/** Text types by what they hold, smallest first: a later one keeps every value of an earlier one. */
const TEXT_SIZES = ['tinytext', 'text', 'mediumtext', 'longtext'];
const BLOB_SIZES = ['tinyblob', 'blob', 'mediumblob', 'longblob'];

/** Whether every stored value stays as it was, and reads back the same, when `from` becomes `to`: a wider varchar / varbinary / char, a bigger text or blob. */
export function keepsValues(from: MysqlColumn, to: MysqlColumn): boolean {
  if (from.collation !== to.collation) return false;
  if (from.type === to.type) return true;
  const sized = /^(varchar|varbinary|char|binary)\((\d+)\)(.*)$/;
  const [, fromBase, fromLength, fromRest] = sized.exec(from.type) ?? [];
  const [, toBase, toLength, toRest] = sized.exec(to.type) ?? [];
  if (fromBase && fromBase === toBase && fromRest === toRest) return Number(toLength) >= Number(fromLength);
  for (const sizes of [TEXT_SIZES, BLOB_SIZES]) {
    const a = sizes.indexOf(from.type);
    const b = sizes.indexOf(to.type);
    if (a >= 0 && b >= 0) return b >= a;
  }
  return false;
}

/**
 * What one statement did to the tables it names, from their columns in the shadow before and
 * after it ran: a table gone is dropped, or renamed when a table named by the same statement
 * appeared with the same columns; a column gone is dropped, or renamed when one appeared at its
 * position with its type; a kept column's type, NOT NULL and default are compared. What the data
 * becomes is what counts: TypeORM's `changeColumn` drops and adds the column again, which reads
 * as a drop. Pure.
 */
export function mysqlTableChanges(
  tables: readonly string[],
  beforeState: MysqlTablesState,
  afterState: MysqlTablesState,
  /** The session checked foreign keys (`foreign_key_checks`) when the statement ran: a new one was checked against every row. */
  foreignKeysChecked = true,
): TableAction[] {
  const before = beforeState.columns;
  const after = afterState.columns;
  const byTable = (columns: readonly MysqlColumn[]) => {
    const map = new Map<string, MysqlColumn[]>();
    for (const column of columns) map.set(column.table, [...(map.get(column.table) ?? []), column]);
    return map;
  };
  const was = byTable(before);
  const now = byTable(after);
  const actions: TableAction[] = [];
  const lock = CATALOG_CHANGE_LOCK;
  for (const name of new Set(tables)) {
    const table: TableName = { name };
    const old = was.get(name);
    if (!old) continue;
    const current = now.get(name);
    if (!current) {
      const to = tables.find((other) => !was.has(other) && now.has(other) && sameColumns(old, now.get(other)!));
      actions.push(to ? { kind: 'rename-table', table, lock, to } : { kind: 'drop-table', table, lock });
      continue;
    }
    const kept = new Map(current.map((column) => [column.name, column]));
    const removed = old.filter((column) => !kept.has(column.name));
    const added = current.filter((column) => !old.some((previous) => previous.name === column.name));
    for (const column of removed) {
      const renamed = added.find((candidate) => candidate.position === column.position && candidate.type === column.type);
      if (renamed) {
        added.splice(added.indexOf(renamed), 1);
        actions.push({ kind: 'rename-column', table, lock, column: column.name, to: renamed.name });
      } else {
        actions.push({ kind: 'drop-column', table, lock, column: column.name });
      }
    }
    for (const column of added) {
      actions.push({
        kind: 'add-column',
        table,
        lock,
        column: column.name,
        notNull: !column.nullable,
        hasDefault: hasDefault(column),
        defaultFunctions: [],
      });
    }
    for (const previous of old) {
      const column = kept.get(previous.name);
      if (!column) continue;
      if (!keepsValues(previous, column)) {
        const type = { names: [column.type], modifiers: [], array: false, converted: true };
        actions.push({ kind: 'alter-column-type', table, lock, column: column.name, type });
      }
      if (previous.nullable && !column.nullable) actions.push({ kind: 'set-not-null', table, lock, column: column.name });
      if (hasDefault(previous) && !hasDefault(column) && !column.generated)
        actions.push({ kind: 'drop-default', table, lock, column: column.name });
    }
    const indexKey = (index: MysqlIndex) => `${index.name}|${index.unique}|${index.columns.join(',')}`;
    const hadIndex = new Set(beforeState.indexes.filter((index) => index.table === name).map(indexKey));
    for (const index of afterState.indexes) {
      if (index.table !== name || !index.unique || hadIndex.has(indexKey(index))) continue;
      actions.push({
        kind: 'create-index',
        table,
        lock,
        concurrent: false,
        unique: true,
        ...(index.partial ? {} : { columns: index.columns }),
        name: index.name,
        ifNotExists: false,
      });
    }
    const keyText = (key: MysqlForeignKey) => `${key.name}|${key.columns.join(',')}|${key.references}|${key.referencedColumns.join(',')}`;
    const hadKey = new Set(beforeState.foreignKeys.filter((key) => key.table === name).map(keyText));
    for (const key of afterState.foreignKeys) {
      if (key.table !== name || hadKey.has(keyText(key))) continue;
      actions.push({
        kind: 'add-constraint',
        table,
        lock,
        constraint: 'foreign-key',
        validated: foreignKeysChecked,
        references: { name: key.references },
        usingIndex: false,
        columns: key.columns,
        referencedColumns: key.referencedColumns,
        name: key.name,
      });
    }
  }
  return actions;
}

function hasDefault(column: MysqlColumn): boolean {
  return column.generated || (column.default !== null && column.default.toUpperCase() !== 'NULL');
}

function sameColumns(a: readonly MysqlColumn[], b: readonly MysqlColumn[]): boolean {
  const text = (columns: readonly MysqlColumn[]) =>
    columns
      .map((column) => `${column.position}|${column.name}|${column.type}|${column.nullable}`)
      .sort()
      .join(',');
  return text(a) === text(b);
}
