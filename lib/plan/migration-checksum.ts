import { hash } from 'node:crypto';
import type { MigrationInterface } from 'typeorm';
import type { Token as AcornToken, TokenType } from 'acorn';

/** acorn's tokens carry their value (its types leave it out). */
type Token = AcornToken & { readonly value?: unknown };

/**
 * What a checksum is made of, versioned: a recorded checksum of another version is not compared
 * (the next migrating run records this version's as a baseline instead).
 */
export const CHECKSUM_VERSION = 'v1';

/** A migration's up() as this build has it: the exact text's hash, and the checksum compared with the recorded one. */
export interface BuildChecksum {
  /** sha256 of up()'s compiled text, exactly: equal means unchanged, without tokenising anything. */
  readonly sourceHash: string;
  /** `v1:` + sha256 of up()'s tokens that survive a rebuild (see {@link normalisedTokens}); computed on first use. */
  readonly checksum: () => string;
}

const byMigration = new WeakMap<object, BuildChecksum | null>();

/**
 * The checksum of a migration as built: its up() only (an edited down() changes no schema that
 * ran). Undefined when up() has no source text (a native or bound function): such a migration is
 * neither recorded nor compared. Cached per instance.
 */
export function buildChecksum(migration: MigrationInterface): BuildChecksum | undefined {
  const known = byMigration.get(migration);
  if (known !== undefined) return known ?? undefined;
  const up: unknown = migration.up;
  const text = typeof up === 'function' ? Function.prototype.toString.call(up) : '';
  let result: BuildChecksum | null = null;
  if (text !== '' && !text.includes('[native code]')) {
    let checksum: string | undefined;
    result = {
      sourceHash: sha256(text),
      checksum: () => (checksum ??= `${CHECKSUM_VERSION}:${sha256(normalisedTokens(text).join('\u0000'))}`),
    };
  }
  byMigration.set(migration, result);
  return result ?? undefined;
}

/** One-shot hashing: a restart hashes every applied migration's up(), and createHash costs several times more per call. */
function sha256(text: string): string {
  return hash('sha256', text, 'hex');
}

type Acorn = typeof import('acorn');
let acorn: Acorn | undefined;

/** acorn, loaded on first use: only when an up()'s text differs from the one recorded. */
function loadAcorn(): Acorn {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS package; loaded lazily (see above)
  acorn ??= require('acorn') as Acorn;
  return acorn;
}

/**
 * What of a function's compiled text says what it does, in order, and survives a rebuild of the
 * same source: string and template text (adjacent pieces joined, so a template and the
 * concatenation an older target compiles it to read the same), numbers by value, regular
 * expressions, `true`/`false`/`null` (`!0`/`!1` as a minifier writes them), member names
 * (`queryRunner.query`) and object keys (`{ type: 'int' }`, shorthand included). Dropped: layout,
 * comments, quotes and escapes, local names (a minifier renames them), other keywords and
 * punctuation (async/await against a generator, `void 0`), helpers a compiler adds (`__awaiter`).
 */
export function normalisedTokens(text: string): string[] {
  const { tokenizer } = loadAcorn();
  const tokens = [...tokenizer(text, { ecmaVersion: 'latest', allowHashBang: true })] as Token[];
  const kept: string[] = [];
  let joining = false;
  const literal = (value: string) => {
    if (value === '') return;
    if (joining) kept[kept.length - 1] += value;
    else kept.push(`s:${value}`);
    joining = true;
  };
  const keep = (entry: string) => {
    kept.push(entry);
    joining = false;
  };
  const brackets: string[] = [];
  for (const [index, token] of tokens.entries()) {
    const label = token.type.label;
    const previous = tokens[index - 1]?.type;
    const next = tokens[index + 1]?.type;
    if (isOpening(label)) brackets.push(label);
    else if (isClosing(label)) brackets.pop();
    const inObject = brackets[brackets.length - 1] === '{' && (previous?.label === '{' || previous?.label === ',');
    const isKey = inObject && (next?.label === ':' || ((next?.label === ',' || next?.label === '}') && isWord(token.type)));
    const isMember = previous?.label === '.' || previous?.label === '?.';
    if (label === 'string' || label === 'template') {
      const value = typeof token.value === 'string' ? token.value : '';
      if (isKey) keep(`k:${value}`);
      else literal(value);
    } else if (isWord(token.type)) {
      const word = String(token.value);
      if (isKey) keep(`k:${word}`);
      // A member of a reference (`Object.assign`, which an older target writes for a spread) is one too.
      else if (isMember && !isReference(word) && !isReferenceWord(tokens[index - 2])) keep(`m:${word}`);
      else if (word === 'true' || word === 'false') keep(`l:${word}`);
    } else if (label === 'num') {
      const value = String(token.value);
      if (previous?.keyword === 'void') continue;
      if (tokens[index - 1]?.value === '!' && (value === '0' || value === '1')) keep(`l:${value === '0' ? 'true' : 'false'}`);
      else keep(`n:${value}`);
    } else if (label === 'regexp') {
      const { pattern, flags } = token.value as { pattern: string; flags: string };
      keep(`r:/${pattern}/${flags}`);
    }
  }
  return kept;
}

/**
 * A name that refers to something rather than says what is done: a compiler's helper (`__awaiter`)
 * or an imported class (`typeorm_1.TableColumn` in CommonJS output, `TableColumn` in ESM, renamed
 * by a minifier).
 */
function isReference(word: string): boolean {
  return word.startsWith('__') || /^[A-Z]/.test(word);
}

function isReferenceWord(token: Token | undefined): boolean {
  return token !== undefined && isWord(token.type) && isReference(String(token.value));
}

function isWord(type: TokenType): boolean {
  return type.label === 'name' || type.keyword !== undefined;
}

function isOpening(label: string): boolean {
  return label === '{' || label === '(' || label === '[' || label === '${';
}

function isClosing(label: string): boolean {
  return label === '}' || label === ')' || label === ']';
}
