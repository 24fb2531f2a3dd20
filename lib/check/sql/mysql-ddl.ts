/**
 * MySQL/MariaDB DDL as far as `check` needs to read it: which tables a statement changes, and the
 * same statement with an `ALGORITHM` / `LOCK` clause added, so that the server itself says whether
 * it can run it without copying the table or blocking writes. The statement's meaning is never
 * read from its text: what it did is read from the shadow's catalog after it ran (see
 * shadow/mysql-statement-probe.ts). Pure.
 */

/** What a statement is, for the probe: the verbs that take a metadata lock on a table, and the tables they name. */
export interface MysqlDdl {
  readonly kind: 'alter-table' | 'create-index' | 'drop-index' | 'drop-table' | 'rename-table' | 'create-table';
  /** The tables it names, as written (a qualified name's last part), in order: a rename's old and new names both. */
  readonly tables: readonly string[];
  /**
   * The statement with `ALGORITHM=<algorithm>, LOCK=<lock>` added (DROP INDEX: as the equivalent
   * ALTER TABLE, which takes the clause); absent for statements the server runs without copying
   * (DROP TABLE, RENAME TABLE) or that create the table (nothing live waits on a new one).
   */
  readonly withClause?: (algorithm: string, lock?: string) => string;
  /** The clauses the statement gives itself (`ALGORITHM=COPY`, `LOCK=NONE`), upper case: it is run as written and taken at its word. */
  readonly declared?: { readonly algorithm?: string; readonly lock?: string };
}

/** A token of a statement: a name (backquoted or bare, unquoted), or one character of punctuation. */
interface Token {
  readonly text: string;
  readonly quoted: boolean;
}

/**
 * MySQL's SQL as the server reads it: comments out (a versioned one's content kept, `/*!50000 …*\/`
 * and MariaDB's `/*M! …*\/`: the server runs it), string literals emptied.
 */
export function withoutMysqlComments(sql: string): string {
  return sql
    .replace(/\/\*(?:!|M!)\d*([\s\S]*?)\*\//g, ' $1 ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/(?:--\s|#)[^\n]*/g, ' ')
    .replace(/'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"/g, "''");
}

function tokens(sql: string): Token[] {
  const found: Token[] = [];
  for (const [, quoted, bare, other] of withoutMysqlComments(sql).matchAll(/`((?:[^`]|``)*)`|([A-Za-z0-9_$]+)|(\S)/g)) {
    if (quoted !== undefined) found.push({ text: quoted.replaceAll('``', '`'), quoted: true });
    else found.push({ text: bare ?? other!, quoted: false });
  }
  return found;
}

/** Reads tokens from a position: keywords (bare, any case) and names (qualified: the last part). */
class Reader {
  constructor(
    private readonly list: readonly Token[],
    public at = 0,
  ) {}

  /** Consumes the keywords given, in order, when they come next; true when they did. */
  keywords(...words: string[]): boolean {
    for (const [offset, word] of words.entries()) {
      const token = this.list[this.at + offset];
      if (!token || token.quoted || token.text.toUpperCase() !== word) return false;
    }
    this.at += words.length;
    return true;
  }

  /** A name, `db`.`name` read as `name`; undefined when none comes next. */
  name(): string | undefined {
    const first = this.list[this.at];
    if (!first || (!first.quoted && !/^[A-Za-z0-9_$]+$/.test(first.text))) return undefined;
    this.at++;
    let name = first.text;
    while (this.list[this.at]?.text === '.' && !this.list[this.at]!.quoted && this.list[this.at + 1]) {
      name = this.list[this.at + 1]!.text;
      this.at += 2;
    }
    return name;
  }

  get rest(): readonly Token[] {
    return this.list.slice(this.at);
  }
}

/** The statement without what ends it (`;`, blanks), so that a clause can follow it (after a newline: a trailing `-- comment` ends there). */
function body(sql: string): string {
  return sql.replace(/[\s;]+$/, '');
}

/** The clauses a statement already gives (`ALGORITHM [=] x`, `LOCK [=] y`), or undefined. */
function declaredClauses(rest: readonly Token[]): MysqlDdl['declared'] {
  let algorithm: string | undefined;
  let lock: string | undefined;
  for (let index = 0; index < rest.length; index++) {
    const word = rest[index]!.quoted ? '' : rest[index]!.text.toUpperCase();
    if (word !== 'ALGORITHM' && word !== 'LOCK') continue;
    const next = rest[index + 1]?.text === '=' ? rest[index + 2] : rest[index + 1];
    if (!next || next.quoted) continue;
    if (word === 'ALGORITHM') algorithm = next.text.toUpperCase();
    else lock = next.text.toUpperCase();
  }
  return algorithm === undefined && lock === undefined ? undefined : { ...(algorithm ? { algorithm } : {}), ...(lock ? { lock } : {}) };
}

const quote = (name: string) => `\`${name.replaceAll('`', '``')}\``;

/** What `sql` is, for the probe; undefined for statements that change no table's definition (DML, SET, views, routines). */
export function mysqlDdl(sql: string): MysqlDdl | undefined {
  const reader = new Reader(tokens(sql));
  if (reader.keywords('ALTER')) {
    reader.keywords('ONLINE');
    reader.keywords('IGNORE');
    if (!reader.keywords('TABLE')) return undefined;
    reader.keywords('IF', 'EXISTS');
    const table = reader.name();
    if (!table) return undefined;
    const tables = [table];
    // ALTER TABLE a RENAME [TO|AS] b (not RENAME COLUMN / INDEX / KEY): the new name is the table's too.
    const rest = reader.rest;
    for (let index = 0; index < rest.length; index++) {
      if (rest[index]!.quoted || rest[index]!.text.toUpperCase() !== 'RENAME') continue;
      const after = new Reader(rest, index + 1);
      if (after.keywords('COLUMN') || after.keywords('INDEX') || after.keywords('KEY')) continue;
      if (!after.keywords('TO')) after.keywords('AS');
      const to = after.name();
      if (to) tables.push(to);
    }
    const declared = declaredClauses(rest);
    return {
      kind: 'alter-table',
      tables,
      ...(declared
        ? { declared }
        : { withClause: (algorithm, lock) => `${body(sql)}\n, ALGORITHM=${algorithm}${lock ? `, LOCK=${lock}` : ''}` }),
    };
  }
  if (reader.keywords('CREATE')) {
    reader.keywords('OR', 'REPLACE');
    reader.keywords('TEMPORARY');
    if (reader.keywords('TABLE')) {
      reader.keywords('IF', 'NOT', 'EXISTS');
      const table = reader.name();
      return table ? { kind: 'create-table', tables: [table] } : undefined;
    }
    if (!(reader.keywords('UNIQUE') || reader.keywords('FULLTEXT') || reader.keywords('SPATIAL'))) reader.keywords('ONLINE');
    if (!reader.keywords('INDEX')) return undefined;
    reader.keywords('IF', 'NOT', 'EXISTS');
    if (!reader.name()) return undefined;
    if (reader.keywords('USING')) reader.name();
    if (!reader.keywords('ON')) return undefined;
    const table = reader.name();
    if (!table) return undefined;
    const declared = declaredClauses(reader.rest);
    return {
      kind: 'create-index',
      tables: [table],
      ...(declared
        ? { declared }
        : { withClause: (algorithm, lock) => `${body(sql)}\nALGORITHM=${algorithm}${lock ? ` LOCK=${lock}` : ''}` }),
    };
  }
  if (reader.keywords('DROP')) {
    reader.keywords('TEMPORARY');
    if (reader.keywords('TABLE')) {
      reader.keywords('IF', 'EXISTS');
      const tables: string[] = [];
      for (let table = reader.name(); table; table = reader.keywords(',') ? reader.name() : undefined) tables.push(table);
      return tables.length > 0 ? { kind: 'drop-table', tables } : undefined;
    }
    reader.keywords('ONLINE');
    if (!reader.keywords('INDEX')) return undefined;
    const ifExists = reader.keywords('IF', 'EXISTS');
    const index = reader.name();
    if (!index || !reader.keywords('ON')) return undefined;
    const table = reader.name();
    if (!table) return undefined;
    const declared = declaredClauses(reader.rest);
    // MariaDB's DROP INDEX takes no ALGORITHM clause: the same change as ALTER TABLE … DROP INDEX does.
    const drop = `ALTER TABLE ${quote(table)} DROP INDEX ${ifExists ? 'IF EXISTS ' : ''}${quote(index)}`;
    return {
      kind: 'drop-index',
      tables: [table],
      ...(declared ? { declared } : { withClause: (algorithm, lock) => `${drop}, ALGORITHM=${algorithm}${lock ? `, LOCK=${lock}` : ''}` }),
    };
  }
  if (reader.keywords('RENAME', 'TABLE')) {
    const tables: string[] = [];
    do {
      const from = reader.name();
      if (!from || !reader.keywords('TO')) break;
      const to = reader.name();
      if (!to) break;
      tables.push(from, to);
    } while (reader.keywords(','));
    return tables.length > 0 ? { kind: 'rename-table', tables } : undefined;
  }
  return undefined;
}

/** Whether `sql` limits how long the session's statements wait for a metadata lock (`SET [SESSION] lock_wait_timeout`, MariaDB's `SET STATEMENT … FOR`). */
export function setsMysqlLockTimeout(sql: string): boolean {
  return /^\s*SET\s+(?:SESSION\s+|LOCAL\s+|@@(?:SESSION\.|LOCAL\.)?|STATEMENT\s+)?[^;]*\block_wait_timeout\s*=/i.test(
    withoutMysqlComments(sql),
  );
}
