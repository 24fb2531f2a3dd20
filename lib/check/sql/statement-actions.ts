import type { AlterTableCmd, ColumnDef, Constraint, IndexStmt, Node, RangeVar, RawStmt, RenameStmt, TypeName } from 'libpg-query';

/** A table as a statement names it (`schema` absent: resolved through the session's search_path). */
export interface TableName {
  readonly schema?: string;
  readonly name: string;
}

/** PostgreSQL's table lock modes a migration statement takes, weakest first (as `LOCK_STRENGTH` orders them). */
export type LockMode = 'SHARE UPDATE EXCLUSIVE' | 'SHARE' | 'SHARE ROW EXCLUSIVE' | 'ACCESS EXCLUSIVE';

const LOCK_STRENGTH: Record<LockMode, number> = {
  'SHARE UPDATE EXCLUSIVE': 1,
  SHARE: 2,
  'SHARE ROW EXCLUSIVE': 3,
  'ACCESS EXCLUSIVE': 4,
};

/** What each lock mode stops other sessions doing while it is held. */
export const LOCK_BLOCKS: Record<LockMode, string> = {
  'SHARE UPDATE EXCLUSIVE': 'other schema changes, VACUUM and index builds (reads and writes go on)',
  SHARE: 'INSERT, UPDATE and DELETE (reads go on)',
  'SHARE ROW EXCLUSIVE': 'INSERT, UPDATE and DELETE (reads go on)',
  'ACCESS EXCLUSIVE': 'every read and write, and every query queued behind it',
};

/** What one statement does to one table, as far as the rules need to know. */
export type TableAction =
  | {
      readonly kind: 'create-index';
      readonly table: TableName;
      readonly lock: LockMode;
      readonly concurrent: boolean;
      readonly unique: boolean;
      /** Its key columns, when each is a plain column and the index has no WHERE. */
      readonly columns?: readonly string[];
      /** Its name, when the statement gives one, and whether it says IF NOT EXISTS. */
      readonly name?: string;
      readonly ifNotExists: boolean;
    }
  | {
      readonly kind: 'add-constraint';
      readonly table: TableName;
      readonly lock: LockMode;
      readonly constraint: 'foreign-key' | 'check' | 'unique' | 'primary-key' | 'exclusion';
      /** Checked against every existing row now (no NOT VALID; a unique or primary key builds its index). */
      readonly validated: boolean;
      /** The referenced table of a foreign key. */
      readonly references?: TableName;
      /** Built on an existing unique index (`USING INDEX`): no scan, no build. */
      readonly usingIndex: boolean;
      /** That index's name. */
      readonly indexName?: string;
      /** The columns it constrains (a foreign key's, a key's, those a check reads); empty when not known (exclusion). */
      readonly columns: readonly string[];
      /** A foreign key's referenced columns, when the statement names them. */
      readonly referencedColumns?: readonly string[];
      /** Its name, when the statement gives one. */
      readonly name?: string;
    }
  | { readonly kind: 'drop-constraint'; readonly table: TableName; readonly lock: LockMode; readonly name: string }
  | {
      readonly kind: 'add-column';
      readonly table: TableName;
      readonly lock: LockMode;
      readonly column: string;
      readonly notNull: boolean;
      readonly hasDefault: boolean;
      /** Functions its default calls (a volatile one makes PostgreSQL rewrite the table). */
      readonly defaultFunctions: readonly string[];
      /** Why adding it rewrites the table whatever its functions (serial, identity, stored generated), if it does. */
      readonly rewrites?: string;
    }
  | {
      readonly kind: 'alter-column-type';
      readonly table: TableName;
      readonly lock: LockMode;
      readonly column: string;
      readonly type: TypeSpec;
    }
  | { readonly kind: 'set-not-null'; readonly table: TableName; readonly lock: LockMode; readonly column: string }
  | { readonly kind: 'drop-default'; readonly table: TableName; readonly lock: LockMode; readonly column: string }
  | { readonly kind: 'drop-column'; readonly table: TableName; readonly lock: LockMode; readonly column: string }
  | { readonly kind: 'rename-column'; readonly table: TableName; readonly lock: LockMode; readonly column: string; readonly to: string }
  | { readonly kind: 'rename-table'; readonly table: TableName; readonly lock: LockMode; readonly to: string }
  | { readonly kind: 'drop-table'; readonly table: TableName; readonly lock: LockMode }
  /** A change that rewrites every row whatever its details (SET LOGGED, SET TABLESPACE…). */
  | { readonly kind: 'rewrite'; readonly table: TableName; readonly lock: LockMode; readonly what: string }
  /** Any other change to a table: only the lock it takes matters here. */
  | { readonly kind: 'other'; readonly table: TableName; readonly lock: LockMode; readonly what: string };

/** A column type as written: its qualified name parts and its modifiers (e.g. varchar(100): ['varchar'], [100]). */
export interface TypeSpec {
  readonly names: readonly string[];
  readonly modifiers: readonly number[];
  readonly array: boolean;
  /** `USING expression` or `COLLATE`: the values (or their order) change, whatever the types. */
  readonly converted?: boolean;
}

/** One statement, as parsed: its table actions and whether it sets `lock_timeout`. */
export interface StatementActions {
  readonly actions: readonly TableAction[];
  /** `SET [LOCAL] lock_timeout`: true when it sets a limit, false when it removes it (0 or DEFAULT). */
  readonly setsLockTimeout?: boolean;
  /** Why what the statement does cannot be read from it (a DO block runs statements of its own): its migration is not checked. */
  readonly unreadable?: string;
  /**
   * Tables whose every row the statement reads or writes, so that it takes as long as they are big:
   * UPDATE or DELETE whose WHERE (if any) tests only for NULL (a backfill), INSERT … SELECT from a
   * table without a WHERE. Another WHERE's selectivity is not known here: not counted.
   */
  readonly scans?: readonly RowScan[];
}

/** A statement's pass over every row of a table (see {@link StatementActions.scans}). */
export interface RowScan {
  readonly table: TableName;
  /** `UPDATE`, `DELETE` or `INSERT … SELECT`. */
  readonly what: string;
}

/** The strongest of the statement's locks on a table, or undefined when it takes none of those above. */
export function strongestLock(actions: readonly TableAction[]): LockMode | undefined {
  let strongest: LockMode | undefined;
  for (const { lock } of actions) if (!strongest || LOCK_STRENGTH[lock] > LOCK_STRENGTH[strongest]) strongest = lock;
  return strongest;
}

/** What one parsed statement (a node of libpg-query's parse result) does. Pure. */
export function statementActions(raw: RawStmt): StatementActions {
  const stmt = raw.stmt as Record<string, unknown> | undefined;
  if (!stmt) return { actions: [] };
  const [type, body] = Object.entries(stmt)[0] ?? [];
  switch (type) {
    case 'IndexStmt':
      return { actions: indexActions(body as IndexStmt) };
    case 'AlterTableStmt':
      return { actions: alterTableActions(body as { relation?: RangeVar; cmds?: Node[]; objtype?: string }) };
    case 'RenameStmt':
      return { actions: renameActions(body as RenameStmt) };
    case 'DropStmt':
      return { actions: dropActions(body as { objects?: Node[]; removeType?: string }) };
    case 'TruncateStmt':
      return { actions: tablesOf((body as { relations?: Node[] }).relations).map((table) => other(table, 'TRUNCATE')) };
    case 'LockStmt':
      return { actions: tablesOf((body as { relations?: Node[] }).relations).map((table) => other(table, 'LOCK TABLE')) };
    case 'DoStmt':
      return { actions: [], unreadable: 'a DO block runs statements the dry run does not record one by one' };
    case 'VariableSetStmt':
      return lockTimeoutSetting(body as { name?: string; kind?: string; args?: Node[] });
    case 'UpdateStmt':
    case 'DeleteStmt': {
      const { relation, whereClause } = body as { relation?: RangeVar; whereClause?: Node };
      const table = tableName(relation);
      const what = type === 'UpdateStmt' ? 'UPDATE' : 'DELETE';
      return { actions: [], ...(table && everyRow(whereClause) ? { scans: [{ table, what }] } : {}) };
    }
    case 'InsertStmt': {
      const select = (body as { selectStmt?: { SelectStmt?: { fromClause?: Node[]; whereClause?: Node } } }).selectStmt?.SelectStmt;
      const tables = select && everyRow(select.whereClause) ? tablesRead(select.fromClause) : [];
      return { actions: [], ...(tables.length > 0 ? { scans: tables.map((table) => ({ table, what: 'INSERT … SELECT' })) } : {}) };
    }
    default:
      return { actions: [] };
  }
}

/** Whether a WHERE clause leaves every row to visit: none, or only IS [NOT] NULL tests joined by AND. */
function everyRow(where: Node | undefined): boolean {
  if (where === undefined) return true;
  const node = where as { NullTest?: unknown; BoolExpr?: { boolop?: string; args?: Node[] } };
  if (node.NullTest !== undefined) return true;
  return node.BoolExpr?.boolop === 'AND_EXPR' && (node.BoolExpr.args ?? []).every(everyRow);
}

/** The tables a FROM list reads, joined ones included. */
function tablesRead(from: Node[] | undefined): TableName[] {
  return (from ?? []).flatMap((node) => {
    const { RangeVar: range, JoinExpr: join } = node as { RangeVar?: RangeVar; JoinExpr?: { larg?: Node; rarg?: Node } };
    if (range) return tableName(range) ?? [];
    return join ? tablesRead([join.larg, join.rarg].filter((side): side is Node => side !== undefined)) : [];
  });
}

function other(table: TableName, what: string, lock: LockMode = 'ACCESS EXCLUSIVE'): TableAction {
  return { kind: 'other', table, lock, what };
}

function tableName(relation: RangeVar | undefined): TableName | undefined {
  if (!relation?.relname) return undefined;
  return relation.schemaname ? { schema: relation.schemaname, name: relation.relname } : { name: relation.relname };
}

function tablesOf(nodes: Node[] | undefined): TableName[] {
  return (nodes ?? []).flatMap((node) => {
    const table = tableName((node as { RangeVar?: RangeVar }).RangeVar);
    return table ? [table] : [];
  });
}

function indexActions(index: IndexStmt): TableAction[] {
  const table = tableName(index.relation);
  if (!table) return [];
  const concurrent = index.concurrent === true;
  // Its key columns when every key is a plain column and it covers every row (no WHERE): what a data check can ask about.
  const elements = (index.indexParams ?? []).map((node) => (node as { IndexElem?: { name?: string } }).IndexElem?.name);
  const plain = elements.length > 0 && elements.every((name) => name !== undefined) && index.whereClause === undefined;
  return [
    {
      kind: 'create-index',
      table,
      lock: concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE',
      concurrent,
      unique: index.unique === true,
      ...(plain ? { columns: elements as string[] } : {}),
      ...(index.idxname ? { name: index.idxname } : {}),
      ifNotExists: index.if_not_exists === true,
    },
  ];
}

/** The lock each ALTER TABLE subcommand takes where it is weaker than ACCESS EXCLUSIVE (PostgreSQL's ALTER TABLE reference). */
const WEAKER_ALTER_LOCKS: Partial<Record<string, LockMode>> = {
  AT_ValidateConstraint: 'SHARE UPDATE EXCLUSIVE',
  AT_SetStatistics: 'SHARE UPDATE EXCLUSIVE',
  AT_ClusterOn: 'SHARE UPDATE EXCLUSIVE',
  AT_DropCluster: 'SHARE UPDATE EXCLUSIVE',
  AT_SetRelOptions: 'SHARE UPDATE EXCLUSIVE',
  AT_ResetRelOptions: 'SHARE UPDATE EXCLUSIVE',
  AT_AttachPartition: 'SHARE UPDATE EXCLUSIVE',
  AT_EnableTrig: 'SHARE ROW EXCLUSIVE',
  AT_EnableAlwaysTrig: 'SHARE ROW EXCLUSIVE',
  AT_EnableReplicaTrig: 'SHARE ROW EXCLUSIVE',
  AT_DisableTrig: 'SHARE ROW EXCLUSIVE',
  AT_EnableTrigAll: 'SHARE ROW EXCLUSIVE',
  AT_DisableTrigAll: 'SHARE ROW EXCLUSIVE',
  AT_EnableTrigUser: 'SHARE ROW EXCLUSIVE',
  AT_DisableTrigUser: 'SHARE ROW EXCLUSIVE',
};

function alterTableActions(alter: { relation?: RangeVar; cmds?: Node[]; objtype?: string }): TableAction[] {
  const table = tableName(alter.relation);
  // ALTER INDEX / SEQUENCE / VIEW share the statement type: only tables are checked.
  if (!table || (alter.objtype !== undefined && alter.objtype !== 'OBJECT_TABLE')) return [];
  const actions = (alter.cmds ?? []).flatMap((node) => {
    const cmd = (node as { AlterTableCmd?: AlterTableCmd }).AlterTableCmd;
    return cmd ? alterCommandActions(table, cmd) : [];
  });
  // One ALTER TABLE holds the strongest lock of its subcommands for all of them.
  const lock = strongestLock(actions);
  return lock ? actions.map((action) => ({ ...action, lock })) : actions;
}

function alterCommandActions(table: TableName, cmd: AlterTableCmd): TableAction[] {
  const lock: LockMode = WEAKER_ALTER_LOCKS[cmd.subtype ?? ''] ?? 'ACCESS EXCLUSIVE';
  const column = cmd.name ?? '';
  switch (cmd.subtype) {
    case 'AT_AddColumn':
      return [addColumn(table, (cmd.def as { ColumnDef?: ColumnDef } | undefined)?.ColumnDef)];
    case 'AT_AlterColumnType': {
      const def = (cmd.def as { ColumnDef?: ColumnDef } | undefined)?.ColumnDef;
      const converted = def?.raw_default !== undefined || def?.collClause !== undefined;
      return [
        { kind: 'alter-column-type', table, lock, column, type: { ...typeSpec(def?.typeName), ...(converted ? { converted } : {}) } },
      ];
    }
    case 'AT_SetLogged':
    case 'AT_SetUnLogged':
    case 'AT_SetTableSpace':
    case 'AT_SetAccessMethod':
      return [{ kind: 'rewrite', table, lock, what: (cmd.subtype ?? '').replace(/^AT_/, '') }];
    case 'AT_SetNotNull':
      return [{ kind: 'set-not-null', table, lock, column }];
    case 'AT_ColumnDefault':
      // SET DEFAULT carries the expression; DROP DEFAULT none.
      return cmd.def === undefined ? [{ kind: 'drop-default', table, lock, column }] : [other(table, `SET DEFAULT on "${column}"`, lock)];
    case 'AT_DropColumn':
      return [{ kind: 'drop-column', table, lock, column }];
    case 'AT_AddConstraint':
      return [addConstraint(table, (cmd.def as { Constraint?: Constraint } | undefined)?.Constraint)];
    case 'AT_DropConstraint':
      return [{ kind: 'drop-constraint', table, lock, name: column }];
    default:
      return [other(table, (cmd.subtype ?? 'ALTER TABLE').replace(/^AT_/, ''), lock)];
  }
}

function addColumn(table: TableName, def: ColumnDef | undefined): TableAction {
  const constraints = (def?.constraints ?? []).flatMap((node) => {
    const constraint = (node as { Constraint?: Constraint }).Constraint;
    return constraint ? [constraint] : [];
  });
  const defaultExpr = constraints.find((constraint) => constraint.contype === 'CONSTR_DEFAULT')?.raw_expr ?? def?.raw_default;
  const typeNames = typeSpec(def?.typeName).names;
  const serial = ['serial', 'serial4', 'bigserial', 'serial8', 'smallserial', 'serial2'].includes(typeNames.at(-1) ?? '');
  const identity = constraints.some((constraint) => constraint.contype === 'CONSTR_IDENTITY');
  // PostgreSQL 18: a generated column is virtual unless STORED.
  const stored = constraints.some((constraint) => constraint.contype === 'CONSTR_GENERATED' && constraint.generated_kind !== 'v');
  const rewrites = serial
    ? `a ${typeNames.at(-1)} column fills every row from a sequence`
    : identity
      ? 'an identity column fills every row from a sequence'
      : stored
        ? 'a stored generated column is computed for every row'
        : undefined;
  return {
    kind: 'add-column',
    table,
    lock: 'ACCESS EXCLUSIVE',
    column: def?.colname ?? '',
    notNull:
      def?.is_not_null === true ||
      constraints.some((constraint) => constraint.contype === 'CONSTR_NOTNULL' || constraint.contype === 'CONSTR_PRIMARY'),
    hasDefault: defaultExpr !== undefined || serial || identity || stored,
    defaultFunctions: defaultExpr === undefined ? [] : functionsCalled(defaultExpr),
    ...(rewrites ? { rewrites } : {}),
  };
}

const CONSTRAINT_KINDS: Partial<Record<string, 'foreign-key' | 'check' | 'unique' | 'primary-key' | 'exclusion'>> = {
  CONSTR_FOREIGN: 'foreign-key',
  CONSTR_CHECK: 'check',
  CONSTR_UNIQUE: 'unique',
  CONSTR_PRIMARY: 'primary-key',
  CONSTR_EXCLUSION: 'exclusion',
};

function addConstraint(table: TableName, constraint: Constraint | undefined): TableAction {
  const kind = CONSTRAINT_KINDS[constraint?.contype ?? ''];
  if (!kind || !constraint) return other(table, 'ADD CONSTRAINT');
  const references = kind === 'foreign-key' ? tableName(constraint.pktable) : undefined;
  return {
    kind: 'add-constraint',
    table,
    // A foreign key takes SHARE ROW EXCLUSIVE on both tables; every other constraint ACCESS EXCLUSIVE.
    lock: kind === 'foreign-key' ? 'SHARE ROW EXCLUSIVE' : 'ACCESS EXCLUSIVE',
    constraint: kind,
    validated: constraint.skip_validation !== true,
    ...(references ? { references } : {}),
    usingIndex: constraint.indexname !== undefined,
    ...(constraint.indexname !== undefined ? { indexName: constraint.indexname } : {}),
    columns:
      kind === 'foreign-key'
        ? stringList(constraint.fk_attrs)
        : kind === 'check'
          ? columnsReferenced(constraint.raw_expr)
          : kind === 'exclusion'
            ? []
            : stringList(constraint.keys),
    ...(kind === 'foreign-key' && (constraint.pk_attrs ?? []).length > 0 ? { referencedColumns: stringList(constraint.pk_attrs) } : {}),
    ...(constraint.conname ? { name: constraint.conname } : {}),
  };
}

function renameActions(rename: RenameStmt): TableAction[] {
  const table = tableName(rename.relation);
  if (!table || !rename.newname) return [];
  if (rename.renameType === 'OBJECT_TABLE') return [{ kind: 'rename-table', table, lock: 'ACCESS EXCLUSIVE', to: rename.newname }];
  if (rename.renameType === 'OBJECT_COLUMN' && rename.relationType === 'OBJECT_TABLE') {
    return [{ kind: 'rename-column', table, lock: 'ACCESS EXCLUSIVE', column: rename.subname ?? '', to: rename.newname }];
  }
  return [];
}

function dropActions(drop: { objects?: Node[]; removeType?: string }): TableAction[] {
  if (drop.removeType !== 'OBJECT_TABLE') return [];
  return (drop.objects ?? []).flatMap((node) => {
    const parts = stringList((node as { List?: { items?: Node[] } }).List?.items);
    const name = parts.at(-1);
    if (!name) return [];
    const table: TableName = parts.length > 1 ? { schema: parts.at(-2)!, name } : { name };
    return [{ kind: 'drop-table' as const, table, lock: 'ACCESS EXCLUSIVE' as const }];
  });
}

function lockTimeoutSetting(set: { name?: string; kind?: string; args?: Node[] }): StatementActions {
  if (set.name !== 'lock_timeout') return { actions: [] };
  if (set.kind !== 'VAR_SET_VALUE') return { actions: [], setsLockTimeout: false };
  const value = (set.args?.[0] as { A_Const?: { ival?: { ival?: number }; sval?: { sval?: string } } } | undefined)?.A_Const;
  const text = value?.sval?.sval;
  const number = value?.ival?.ival ?? (text === undefined ? 0 : Number.parseFloat(text));
  return { actions: [], setsLockTimeout: Number.isFinite(number) && number > 0 };
}

function typeSpec(typeName: TypeName | undefined): TypeSpec {
  const names = stringList(typeName?.names);
  const modifiers = (typeName?.typmods ?? []).flatMap((node) => {
    const ival = (node as { A_Const?: { ival?: { ival?: number } } }).A_Const?.ival;
    return ival === undefined ? [] : [ival.ival ?? 0];
  });
  return { names, modifiers, array: (typeName?.arrayBounds?.length ?? 0) > 0 };
}

function stringList(nodes: Node[] | undefined): string[] {
  return (nodes ?? []).flatMap((node) => {
    const value = (node as { String?: { sval?: string } }).String?.sval;
    return value === undefined ? [] : [value];
  });
}

/** Every function an expression calls (unqualified name), at any depth. */
export function functionsCalled(expression: unknown): string[] {
  return lastNamesIn(expression, (node) => (node as { FuncCall?: { funcname?: Node[] } }).FuncCall?.funcname);
}

/** Every column an expression reads (its name, without the table), at any depth. */
function columnsReferenced(expression: unknown): string[] {
  return lastNamesIn(expression, (node) => (node as { ColumnRef?: { fields?: Node[] } }).ColumnRef?.fields);
}

/** The last name of each name list `pick` finds in the parse tree (a function's, a column's), once each. */
function lastNamesIn(expression: unknown, pick: (node: object) => Node[] | undefined): string[] {
  const found = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    const name = stringList(pick(value)).at(-1);
    if (name) found.add(name);
    for (const child of Object.values(value)) visit(child);
  };
  visit(expression);
  return [...found];
}
