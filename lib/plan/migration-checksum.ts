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

/**
 * A recorded checksum that is up()'s text itself (`text:` + its exact hash, the text beside it):
 * what is recorded as a migration is applied, so that a run tokenises nothing. Its normalised
 * checksum is taken from the recorded text only when a later build's text differs.
 */
export const RECORDED_TEXT = 'text';

/** A migration's up() as this build has it: the exact text, its hash, and the normalised checksum compared with a recorded one. */
export interface BuildChecksum {
  /** up()'s compiled text, exactly. */
  readonly text: string;
  /** sha256 of {@link text}: equal means unchanged, without tokenising anything. */
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
    result = { text, sourceHash: sha256(text), checksum: () => (checksum ??= normalisedChecksum(text)) };
  }
  byMigration.set(migration, result);
  return result ?? undefined;
}

/** The normalised checksum of an up()'s text (`v1:` + sha256 of its {@link normalisedTokens}): this build's, or a recorded text's. */
export function normalisedChecksum(text: string): string {
  return `${CHECKSUM_VERSION}:${sha256(normalisedOrExact(text))}`;
}

/** What is recorded as the checksum of a migration whose text is recorded beside it (see {@link RECORDED_TEXT}). */
export function recordedTextChecksum(build: BuildChecksum): string {
  return `${RECORDED_TEXT}:${build.sourceHash}`;
}

/**
 * The normalised tokens, joined; the exact text where they cannot be read (a syntax the tokenizer
 * does not know): a checksum is never what makes a migration or a read fail.
 */
function normalisedOrExact(text: string): string {
  try {
    return normalisedTokens(text).join('\u0000');
  } catch {
    return `exact\u0000${text}`;
  }
}

/** One-shot hashing: a restart hashes every applied migration's up(), and createHash costs several times more per call. */
function sha256(text: string): string {
  return hash('sha256', text, 'hex');
}

type Acorn = typeof import('acorn');
let acorn: Acorn | undefined;

/** acorn, loaded on first use: only when an up()'s text differs from the one recorded (never on a run or a restart of the same build). */
function loadAcorn(): Acorn {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS package; loaded lazily (see above)
  acorn ??= require('acorn') as Acorn;
  return acorn;
}

/**
 * What of a function's compiled text says what it does, in order, and survives a rebuild of the
 * same source: string and template text (strings joined by `+` read as one, as a minifier folds
 * them), numbers by value with their sign, regular expressions, `true`/`false` (`!0`/`!1` as a
 * minifier writes them), relational operators, member names (`queryRunner.query`) and object keys
 * (`{ type: 'int' }`, shorthand included). Dropped: layout, comments, quotes and escapes, local
 * names (a minifier renames them), `null` (a helper's argument in some targets), other keywords
 * and operators (async/await against a generator, `void 0`, the checks `?.` and `??` compile to),
 * and what a compiler adds or renames: helpers (`__awaiter`, `Object.assign`) and the bindings of
 * imports (`typeorm_1.TableColumn` and `(0, helpers_1.addColumns)` in CommonJS output are
 * `TableColumn` and `addColumns` in ESM, both dropped like any other local name).
 */
export function normalisedTokens(text: string): string[] {
  const { tokenizer } = loadAcorn();
  const tokens = [...tokenizer(text, { ecmaVersion: 'latest', allowHashBang: true })] as Token[];
  const kept: string[] = [];
  const brackets: string[] = [];
  for (const [index, token] of tokens.entries()) {
    const label = token.type.label;
    if (isOpening(label)) brackets.push(label);
    else if (isClosing(label)) brackets.pop();
    const entry = keptEntry(tokens, index, brackets[brackets.length - 1]);
    if (entry === undefined) continue;
    // "a" + "b" reads as the "ab" a minifier folds it into.
    const joins = entry.startsWith('s:') && kept.at(-1)?.startsWith('s:') && tokens[index - 1]?.value === '+';
    if (joins) kept[kept.length - 1] += entry.slice(2);
    else kept.push(entry);
  }
  return kept;
}

/** What token `index` contributes (see {@link normalisedTokens}), if anything; `bracket`: the innermost open bracket. */
function keptEntry(tokens: readonly Token[], index: number, bracket: string | undefined): string | undefined {
  const token = tokens[index]!;
  const label = token.type.label;
  const previous = tokens[index - 1];
  const next = tokens[index + 1]?.type;
  const inObject = bracket === '{' && (previous?.type.label === '{' || previous?.type.label === ',');
  const isKey = inObject && (next?.label === ':' || ((next?.label === ',' || next?.label === '}') && isWord(token.type)));
  if (label === 'string' || label === 'template') {
    const value = typeof token.value === 'string' ? token.value : '';
    if (isKey) return `k:${value}`;
    return value === '' ? undefined : `s:${value}`;
  }
  if (isWord(token.type)) {
    const word = String(token.value);
    if (isKey) return `k:${word}`;
    const isMember = previous?.type.label === '.' || previous?.type.label === '?.';
    if (isMember) return word.startsWith('__') || isBindingOrGlobal(tokens[index - 2]) ? undefined : `m:${word}`;
    return word === 'true' || word === 'false' ? `l:${word}` : undefined;
  }
  if (label === 'num') {
    const value = String(token.value);
    if (previous?.type.keyword === 'void') return undefined;
    // `(0, helpers_1.addColumns)(…)`: CommonJS output's call of an imported function.
    if (value === '0' && previous?.type.label === '(' && next?.label === ',' && isBindingOrGlobal(tokens[index + 2])) return undefined;
    if (previous?.value === '!' && (value === '0' || value === '1')) return `l:${value === '0' ? 'true' : 'false'}`;
    return previous?.value === '-' ? `n:-${value}` : `n:${value}`;
  }
  if (label === 'regexp') {
    const { pattern, flags } = token.value as { pattern: string; flags: string };
    return `r:/${pattern}/${flags}`;
  }
  return label === '</>/<=/>=' ? `o:${String(token.value)}` : undefined;
}

/** Globals whose members compiled output calls for syntax an older target lacks (a spread: `Object.assign`). */
const COMPILER_GLOBALS = new Set(['Object', 'Reflect', 'Symbol', 'Promise', 'Array']);

/**
 * A name whose members are not the migration's own words: an import's binding in CommonJS output
 * (TypeScript's `typeorm_1`, esbuild's `import_typeorm`), renamed by every compiler, or a global
 * that compiled output uses in place of newer syntax.
 */
function isBindingOrGlobal(token: Token | undefined): boolean {
  if (token === undefined || !isWord(token.type)) return false;
  const word = String(token.value);
  return /_\d+$/.test(word) || word.startsWith('import_') || COMPILER_GLOBALS.has(word);
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
