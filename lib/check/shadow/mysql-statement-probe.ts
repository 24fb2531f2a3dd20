import type { QueryRunner } from 'typeorm';
import { mysqlDdl, type MysqlDdl } from '../sql/mysql-ddl.js';
import {
  mysqlTableChanges,
  type MysqlColumn,
  type MysqlForeignKey,
  type MysqlIndex,
  type MysqlTablesState,
} from '../sql/mysql-table-changes.js';
import type { TableAction } from '../sql/statement-actions.js';
import { databaseErrorCode } from '../../util/error-chain.js';
import { withExpectedFailures } from '../../typeorm/redacting-logger.js';

/**
 * How MySQL/MariaDB runs a statement on a live table, as the server answered on the shadow's copy:
 * - `instant`: only the table's metadata changes (`ALGORITHM=INSTANT`);
 * - `nocopy`: in place without rebuilding the table, writes going on (MariaDB's `ALGORITHM=NOCOPY, LOCK=NONE`: an index build);
 * - `inplace`: in place with writes going on (`ALGORITHM=INPLACE, LOCK=NONE`), rebuilding the table where MariaDB refused NOCOPY (MySQL does not say);
 * - `shared-lock`: in place, but writes wait to its end (`LOCK=SHARED`);
 * - `copy`: every row copied into a new table while writes wait (the server refused all of the above);
 * - `exclusive-lock`: as the statement says, `LOCK=EXCLUSIVE`: reads wait too;
 * - `metadata`: DROP TABLE, RENAME TABLE: a metadata change only;
 * - `unknown`: the server could not be asked (see {@link MysqlStatementAnswer.unknownWhy}).
 */
export type MysqlAlgorithm = 'instant' | 'nocopy' | 'inplace' | 'shared-lock' | 'copy' | 'exclusive-lock' | 'metadata' | 'unknown';

/** What the shadow said of one statement on a live table: how the server runs it, and what it changed. */
export interface MysqlStatementAnswer {
  /** The live tables it changes (as the statement names them). */
  readonly tables: readonly string[];
  readonly algorithm: MysqlAlgorithm;
  /** The server's last refusal (`ALGORITHM=INPLACE is not supported. Reason: Cannot change column type. Try ALGORITHM=COPY`). */
  readonly serverSaid?: string;
  /** Why the server could not be asked (`unknown`). */
  readonly unknownWhy?: string;
  /** What it did to those tables, read from the shadow's catalog before and after it. */
  readonly changes: readonly TableAction[];
}

/** The server's refusal of an ALGORITHM or LOCK clause (ER_ALTER_OPERATION_NOT_SUPPORTED[_REASON]): nothing was changed. */
function isRefusal(error: unknown): boolean {
  const code = databaseErrorCode(error);
  return (
    code === 1845 || code === 1846 || code === 'ER_ALTER_OPERATION_NOT_SUPPORTED' || code === 'ER_ALTER_OPERATION_NOT_SUPPORTED_REASON'
  );
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/^.*?: (?=ALGORITHM|LOCK)/, '');
}

/** What a statement's own clauses say it does (it is run as written). */
function declaredAlgorithm(declared: NonNullable<MysqlDdl['declared']>): { algorithm: MysqlAlgorithm; unknownWhy?: string } {
  if (declared.lock === 'EXCLUSIVE') return { algorithm: 'exclusive-lock' };
  if (declared.algorithm === 'INSTANT') return { algorithm: 'instant' };
  if (declared.algorithm === 'NOCOPY') return { algorithm: 'nocopy' };
  if (declared.algorithm === 'COPY') return { algorithm: 'copy' };
  if (declared.lock === 'SHARED') return { algorithm: 'shared-lock' };
  if (declared.lock === 'NONE') return { algorithm: 'inplace' };
  return {
    algorithm: 'unknown',
    unknownWhy: `it gives ALGORITHM=${declared.algorithm ?? 'DEFAULT'} without LOCK=NONE, and the server then takes the lock it needs`,
  };
}

/**
 * In the MySQL/MariaDB shadow, each statement a pending migration sends that changes a live table
 * (ALTER TABLE, CREATE / DROP INDEX) is first sent with the clauses that refuse what blocks:
 * `ALGORITHM=INSTANT`, then (MariaDB) `ALGORITHM=NOCOPY, LOCK=NONE`, `ALGORITHM=INPLACE, LOCK=NONE`,
 * `ALGORITHM=INPLACE, LOCK=SHARED`; the first the server accepts is what it did, and a refused
 * clause changes nothing. Refused by all, the statement runs as written: a copy. The `alter_algorithm`
 * setting is no help (MariaDB ignores it now): the clause is added to the statement itself. The
 * tables' columns are read before and after each such statement, on the shadow only.
 */
export class MysqlStatementProbe {
  /** The shadow's tables before the pending migrations ran: the live ones (lower case). */
  private readonly live: Set<string>;
  /** Tables a pending statement created or renamed into: not live, whatever their name. */
  private readonly created = new Set<string>();

  private constructor(
    private readonly runner: QueryRunner,
    private readonly query: (sql: string, parameters?: unknown[]) => Promise<unknown>,
    liveTables: readonly string[],
    private readonly mariadb: boolean,
  ) {
    this.live = new Set(liveTables.map((name) => name.toLowerCase()));
  }

  /** Reads the shadow's tables (its copy of the live schema) with `query`, the session's own, not recorded. */
  static async start(runner: QueryRunner, query: (sql: string, parameters?: unknown[]) => Promise<unknown>): Promise<MysqlStatementProbe> {
    const tables = (await query(
      `SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'`,
    )) as Array<{ name: string }>;
    const [version] = (await query('SELECT VERSION() AS version')) as Array<{ version: string }>;
    return new MysqlStatementProbe(
      runner,
      query,
      tables.map((row) => row.name),
      /mariadb/i.test(String(version?.version)),
    );
  }

  /** Runs `sql` through `send` as the ladder says, and says what the server did; no answer for a statement on no live table. */
  async send(sql: string, send: (sql: string) => Promise<unknown>): Promise<{ result: unknown; answer?: MysqlStatementAnswer }> {
    const ddl = mysqlDdl(sql);
    if (!ddl) return { result: await send(sql) };
    const live = ddl.tables.filter((table) => this.isLive(table));
    if (ddl.kind === 'create-table' || live.length === 0) {
      const result = await send(sql);
      this.noteCreated(ddl);
      return { result };
    }
    const before = await this.state(ddl.tables);
    let algorithm: MysqlAlgorithm | undefined;
    let serverSaid: string | undefined;
    let unknownWhy: string | undefined;
    let result: unknown;
    if (ddl.declared) {
      result = await send(sql);
      ({ algorithm, unknownWhy } = declaredAlgorithm(ddl.declared));
    } else if (ddl.withClause) {
      const ladder: Array<[string, string | undefined, MysqlAlgorithm]> = [
        ['INSTANT', undefined, 'instant'],
        ...(this.mariadb ? [['NOCOPY', 'NONE', 'nocopy'] as [string, string, MysqlAlgorithm]] : []),
        ['INPLACE', 'NONE', 'inplace'],
        ['INPLACE', 'SHARED', 'shared-lock'],
      ];
      for (const [clause, lock, answer] of ladder) {
        try {
          result = await withExpectedFailures(
            this.runner,
            () => true,
            () => send(ddl.withClause!(clause, lock)),
          );
          algorithm = answer;
          break;
        } catch (error) {
          if (!isRefusal(error)) {
            unknownWhy = `the server did not take the statement with ALGORITHM=${clause}: ${messageOf(error)}`;
            break;
          }
          serverSaid = messageOf(error);
        }
      }
      if (algorithm === undefined) {
        result = await send(sql);
        algorithm = unknownWhy === undefined ? 'copy' : 'unknown';
      }
    } else {
      result = await send(sql);
      algorithm = 'metadata';
    }
    const after = await this.state(ddl.tables);
    this.noteCreated(ddl);
    return {
      result,
      answer: {
        tables: live,
        algorithm,
        ...(serverSaid !== undefined && algorithm !== 'instant' ? { serverSaid } : {}),
        ...(unknownWhy !== undefined && algorithm === 'unknown' ? { unknownWhy } : {}),
        changes: mysqlTableChanges(ddl.tables, before, after, after.foreignKeysChecked),
      },
    };
  }

  private isLive(table: string): boolean {
    const name = table.toLowerCase();
    return this.live.has(name) && !this.created.has(name);
  }

  /** A table created, or the new name of a rename: what is under that name from now on is not a live table. */
  private noteCreated(ddl: MysqlDdl): void {
    if (ddl.kind === 'create-table') this.created.add(ddl.tables[0]!.toLowerCase());
    if (ddl.kind === 'rename-table')
      for (const [index, name] of ddl.tables.entries()) if (index % 2 === 1) this.created.add(name.toLowerCase());
    if (ddl.kind === 'alter-table') for (const name of ddl.tables.slice(1)) this.created.add(name.toLowerCase());
  }

  /** The tables' columns, indexes and foreign keys in the shadow, and whether the session checks foreign keys now. */
  private async state(tables: readonly string[]): Promise<MysqlTablesState & { foreignKeysChecked: boolean }> {
    const names = [...new Set(tables)];
    const named = (table: string) => tables.find((name) => name.toLowerCase() === table.toLowerCase()) ?? table;
    const columns = (await this.query(
      `SELECT TABLE_NAME AS t, COLUMN_NAME AS c, ORDINAL_POSITION AS p, COLUMN_TYPE AS type, IS_NULLABLE AS nullable,
         COLUMN_DEFAULT AS d, EXTRA AS extra, COLLATION_NAME AS collation, GENERATION_EXPRESSION AS generation, @@foreign_key_checks AS fk_checks
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)`,
      [names],
    )) as Array<{
      t: string;
      c: string;
      p: number;
      type: string;
      nullable: string;
      d: string | null;
      extra: string | null;
      collation: string | null;
      generation: string | null;
      fk_checks: number | string;
    }>;
    const keyParts = (await this.query(
      `SELECT TABLE_NAME AS t, INDEX_NAME AS name, NON_UNIQUE AS non_unique, COLUMN_NAME AS c, SUB_PART AS sub_part
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?) ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
      [names],
    )) as Array<{ t: string; name: string; non_unique: number | string; c: string | null; sub_part: number | null }>;
    const references = (await this.query(
      `SELECT TABLE_NAME AS t, CONSTRAINT_NAME AS name, COLUMN_NAME AS c, REFERENCED_TABLE_NAME AS rt, REFERENCED_COLUMN_NAME AS rc
       FROM information_schema.KEY_COLUMN_USAGE
       WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?) AND REFERENCED_TABLE_NAME IS NOT NULL ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`,
      [names],
    )) as Array<{ t: string; name: string; c: string; rt: string; rc: string }>;
    const indexes = new Map<string, Omit<MysqlIndex, 'partial'> & { columns: string[]; partial: boolean }>();
    for (const part of keyParts) {
      const key = `${part.t}|${part.name}`;
      const index = indexes.get(key) ?? {
        table: named(part.t),
        name: part.name,
        unique: Number(part.non_unique) === 0,
        columns: [],
        partial: false,
      };
      if (part.c === null || part.sub_part !== null) index.partial = true;
      else index.columns.push(part.c);
      indexes.set(key, index);
    }
    const foreignKeys = new Map<string, MysqlForeignKey & { columns: string[]; referencedColumns: string[] }>();
    for (const part of references) {
      const key = `${part.t}|${part.name}`;
      const foreignKey = foreignKeys.get(key) ?? {
        table: named(part.t),
        name: part.name,
        columns: [],
        references: part.rt,
        referencedColumns: [],
      };
      foreignKey.columns.push(part.c);
      foreignKey.referencedColumns.push(part.rc);
      foreignKeys.set(key, foreignKey);
    }
    return {
      columns: columns.map((row): MysqlColumn => ({
        table: named(row.t),
        name: row.c,
        position: Number(row.p),
        type: String(row.type).toLowerCase(),
        nullable: row.nullable === 'YES',
        default: row.d,
        generated: /auto_increment|generated/i.test(row.extra ?? '') || (row.generation ?? '') !== '',
        collation: row.collation,
      })),
      indexes: [...indexes.values()],
      foreignKeys: [...foreignKeys.values()],
      foreignKeysChecked: columns.length === 0 || Number(columns[0]!.fk_checks) !== 0,
    };
  }
}
