import { parseStatements } from '../sql/parse-sql.js';

/**
 * The columns a CHECK constraint, as `pg_get_constraintdef` prints it, proves NOT NULL: a check
 * that is `column IS NOT NULL`, or an AND of such tests. Read by PostgreSQL's parser.
 */
export async function notNullColumnsOf(constraintDef: string): Promise<string[]> {
  const [statement] = await parseStatements(`ALTER TABLE t ADD ${constraintDef}`).catch(() => []);
  const cmd = (
    statement?.stmt as { AlterTableStmt?: { cmds?: Array<{ AlterTableCmd?: { def?: { Constraint?: { raw_expr?: unknown } } } }> } }
  )?.AlterTableStmt?.cmds?.[0]?.AlterTableCmd;
  return notNullTested(cmd?.def?.Constraint?.raw_expr);
}

function notNullTested(expression: unknown): string[] {
  const node = expression as {
    NullTest?: { nulltesttype?: string; arg?: { ColumnRef?: { fields?: Array<{ String?: { sval?: string } }> } } };
    BoolExpr?: { boolop?: string; args?: unknown[] };
  };
  if (node?.NullTest?.nulltesttype === 'IS_NOT_NULL') {
    const fields = node.NullTest.arg?.ColumnRef?.fields ?? [];
    const column = fields.length === 1 ? fields[0]?.String?.sval : undefined;
    return column === undefined ? [] : [column];
  }
  if (node?.BoolExpr?.boolop === 'AND_EXPR') return (node.BoolExpr.args ?? []).flatMap(notNullTested);
  return [];
}
