import type { CheckedStatement, CheckFinding, CheckSeverity, RuleVerdict } from '../check-finding.js';
import { findingOf } from '../check-finding.js';
import type { MysqlAlgorithm, MysqlStatementAnswer } from '../shadow/mysql-statement-probe.js';
import { setsMysqlLockTimeout } from '../sql/mysql-ddl.js';
import { tableKey, type CatalogFacts, type TableFacts } from '../table-facts.js';
import { describeSize, severityBySize } from '../table-size.js';

/** The lock each answer stands for in a finding. */
const LOCK_OF: Record<MysqlAlgorithm, string> = {
  instant: 'metadata lock (exclusive, brief); ALGORITHM=INSTANT',
  nocopy: 'metadata lock (exclusive at start and end); ALGORITHM=NOCOPY, LOCK=NONE',
  inplace: 'metadata lock (exclusive at start and end); ALGORITHM=INPLACE, LOCK=NONE',
  'shared-lock': 'LOCK=SHARED for the whole statement; ALGORITHM=INPLACE',
  copy: 'LOCK=SHARED for the whole copy; ALGORITHM=COPY',
  'exclusive-lock': 'LOCK=EXCLUSIVE for the whole statement',
  metadata: 'metadata lock (exclusive, brief)',
  unknown: 'not known',
};

/** The lock a statement takes, as the server's answer says, for a finding. */
export function mysqlLockOf(answer: MysqlStatementAnswer): string {
  return LOCK_OF[answer.algorithm];
}

/** A MySQL statement as the rules read it: what the shadow answered for it. */
type ProbedStatement = CheckedStatement & { readonly mysql?: MysqlStatementAnswer };

/**
 * The lock hazards of pending MySQL/MariaDB migrations on the live tables, from the server's own
 * answer on the shadow (see MysqlStatementProbe), graded by each live table's size:
 * - a copy (`table-rewrite`) or an in-place run that holds `LOCK=SHARED` (`blocking-lock`): writes
 *   wait to its end, an error on a large table;
 * - an in-place rebuild with writes going on: a warning on any non-empty table (it takes as long
 *   as the table is big, and replicas apply it after);
 * - `no-lock-timeout`: every such statement takes an exclusive metadata lock, and
 *   `lock_wait_timeout` defaults to a year: while it waits for a transaction open on the table,
 *   every query there queues behind it, once per migration that sets no limit. Pure.
 */
export function mysqlLockFindings(statements: readonly ProbedStatement[], facts: CatalogFacts, runLockTimeout: boolean): CheckFinding[] {
  const findings: CheckFinding[] = [];
  const timeoutSet = new Set<string>();
  const warned = new Set<string>();
  for (const statement of statements) {
    if (setsMysqlLockTimeout(statement.sql)) timeoutSet.add(statement.migration);
    const answer = statement.mysql;
    if (!answer) continue;
    const lock = LOCK_OF[answer.algorithm];
    for (const table of answer.tables) {
      const live = facts.tables.get(tableKey({ name: table }));
      if (!live) continue;
      const verdict = hazardOf(statement, answer, live);
      if (verdict) findings.push(findingOf(statement, { lock }, live, verdict));
    }
    const first = answer.tables.map((table) => facts.tables.get(tableKey({ name: table }))).find((live) => live !== undefined);
    if (!first || runLockTimeout || timeoutSet.has(statement.migration) || warned.has(statement.migration)) continue;
    warned.add(statement.migration);
    findings.push(
      findingOf(statement, { lock }, first, {
        rule: 'no-lock-timeout',
        severity: 'warning',
        message:
          `takes an exclusive metadata lock on ${first.qualified} with lock_wait_timeout at its default (a year): while it waits for a ` +
          `transaction already open on the table, every query on the table queues behind it. Set migrationTimeouts.lockTimeoutMs ` +
          `(e.g. 5000) so that it gives up and the strategy retries, or SET SESSION lock_wait_timeout = 5 at the start of the migration.`,
      }),
    );
  }
  return findings;
}

function hazardOf(statement: ProbedStatement, answer: MysqlStatementAnswer, live: TableFacts): RuleVerdict | undefined {
  const severity = severityBySize(live);
  if (!severity) return undefined;
  const size = describeSize(live);
  const said = answer.serverSaid ? ` (the server: "${answer.serverSaid}")` : '';
  switch (answer.algorithm) {
    case 'copy':
      return {
        rule: 'table-rewrite',
        severity,
        ...columnOf(answer),
        message: `copies ${live.qualified} (${size}) row by row into a new table${said}: writes wait until the copy ends. ${insteadOfCopy(answer, live)}`,
      };
    case 'shared-lock':
    case 'exclusive-lock':
      return {
        rule: 'blocking-lock',
        severity,
        ...columnOf(answer),
        message:
          `runs on ${live.qualified} (${size}) only with ${answer.algorithm === 'shared-lock' ? 'LOCK=SHARED: writes' : 'LOCK=EXCLUSIVE: reads and writes'} ` +
          `wait until it ends${said}. ${insteadOfCopy(answer, live)}`,
      };
    case 'inplace':
      return {
        rule: 'table-rewrite',
        severity: 'warning' as CheckSeverity,
        ...columnOf(answer),
        message:
          `rebuilds ${live.qualified} (${size}) in place${said}: writes go on, but it takes as long as the table is big, needs room for a ` +
          `second copy, and replicas apply it only after it ends (replication lag). Run it when that is acceptable, or with an online schema change tool.`,
      };
    default:
      return undefined;
  }
}

/** The column the statement changed, when it changed one. */
function columnOf(answer: MysqlStatementAnswer): { column?: string } {
  const changed = answer.changes.find((change) => 'column' in change);
  return changed && 'column' in changed ? { column: changed.column } : {};
}

/** What to do instead of a copy, by what the statement does and what is on the table. */
function insteadOfCopy(answer: MysqlStatementAnswer, live: TableFacts): string {
  if (answer.serverSaid?.includes('foreign_key_checks'))
    return 'MariaDB adds a foreign key in place with SET foreign_key_checks = 0 before it, without checking the existing rows: check them with a query first.';
  const limits = live.mysqlOnlineToolLimits;
  const tool = limits
    ? `pt-online-schema-change (gh-ost refuses ${live.qualified}: it has ${limits.join(' and ')})`
    : 'gh-ost or pt-online-schema-change';
  if (answer.changes.some((change) => change.kind === 'alter-column-type'))
    return `Add a column of the new type, backfill it in batches, switch the code over and drop the old one a release later; or run the change with ${tool}.`;
  return `Run it with ${tool}, or in a maintenance window.`;
}
