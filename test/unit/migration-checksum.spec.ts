import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { buildSync, transformSync } from 'esbuild';
import ts from 'typescript';
import ts5 from 'typescript5';
import { describe, expect, it } from 'vitest';
import type { MigrationInterface } from 'typeorm';
import { buildChecksum, normalisedTokens } from '../../lib/plan/migration-checksum.js';

/**
 * The rebuild experiments: one migration source compiled in the ways applications build it, each
 * output loaded as the application would load it, and its checksum compared with the one of the
 * repository's own build (TypeScript 6, ES2022, CommonJS). The same source must read as unchanged;
 * an edit of what up() does must read as changed. Results are in docs/release-operations-and-cli.md.
 */
const FIXTURES = join(import.meta.dirname, '../fixtures/checksum');
const requireHere = createRequire(import.meta.url);
const GENERATED = readFileSync(join(FIXTURES, 'generated-migration.ts'), 'utf8');
const HAND_WRITTEN = readFileSync(join(FIXTURES, 'api-migration.ts'), 'utf8');

/** Loads CommonJS output as Node would, with its imports resolved from here; returns an instance of the class it exports. */
function instanceOf(code: string): MigrationInterface {
  const module = { exports: {} as Record<string, unknown> };
  new Function('require', 'exports', 'module', code)(requireHere, module.exports, module);
  const exported = Object.values(module.exports).find((value) => typeof value === 'function') as new () => MigrationInterface;
  return new exported();
}

function checksumOf(code: string): string {
  return buildChecksum(instanceOf(code))!.checksum();
}

type Compiler = typeof ts;
function tsc(compiler: Compiler, source: string, target: keyof typeof ts.ScriptTarget, importHelpers = false): string {
  return compiler.transpileModule(source, {
    compilerOptions: {
      module: compiler.ModuleKind.CommonJS,
      target: compiler.ScriptTarget[target],
      importHelpers,
      esModuleInterop: importHelpers,
    },
  }).outputText;
}

function esbuild(source: string, target: string, minify: boolean): string {
  return transformSync(source, { loader: 'ts', format: 'cjs', target, minify }).code;
}

function esbuildBundle(source: string): string {
  const result = buildSync({
    stdin: { contents: source, loader: 'ts', resolveDir: FIXTURES },
    bundle: true,
    external: ['typeorm'],
    format: 'cjs',
    platform: 'node',
    minify: true,
    write: false,
  });
  return result.outputFiles[0]!.text;
}

/** Every rebuild that keeps the checksum, by name. */
function sameSourceBuilds(source: string): Record<string, string> {
  return {
    'TypeScript 6, ES2015 (a generator for async)': tsc(ts, source, 'ES2015'),
    'TypeScript 6, ES2017': tsc(ts, source, 'ES2017'),
    'TypeScript 6, ES2020': tsc(ts, source, 'ES2020'),
    'TypeScript 6, ESNext': tsc(ts, source, 'ESNext'),
    'TypeScript 6, ES2017 with importHelpers (tslib)': tsc(ts, source, 'ES2017', true),
    'TypeScript 5.9, ES2015': tsc(ts5 as unknown as Compiler, source, 'ES2015'),
    'TypeScript 5.9, ES2022': tsc(ts5 as unknown as Compiler, source, 'ES2022'),
    'esbuild, es2016': esbuild(source, 'es2016', false),
    'esbuild, es2022': esbuild(source, 'es2022', false),
  };
}

describe('a migration checksum across rebuilds of the same source', () => {
  const reference = checksumOf(tsc(ts, GENERATED, 'ES2022'));

  it.each(Object.entries(sameSourceBuilds(GENERATED)))('generated migration, %s: unchanged', (_, code) => {
    expect(checksumOf(code)).toBe(reference);
  });

  it('generated migration, esbuild minified and bundled: unchanged (only its SQL and member names are left, as before)', () => {
    expect(checksumOf(esbuild(GENERATED, 'es2022', true))).toBe(reference);
    expect(checksumOf(esbuildBundle(GENERATED))).toBe(reference);
  });

  const handReference = checksumOf(tsc(ts, HAND_WRITTEN, 'ES2022'));

  it.each(Object.entries(sameSourceBuilds(HAND_WRITTEN)))('hand-written migration, %s: unchanged', (_, code) => {
    expect(checksumOf(code)).toBe(handReference);
  });

  it('known limits, measured: ES5 output (a state machine of numbers) and a minifier inlining a constant read as changed', () => {
    expect(checksumOf(tsc(ts5 as unknown as Compiler, GENERATED, 'ES5'))).not.toBe(reference);
    expect(checksumOf(esbuild(HAND_WRITTEN, 'es2022', true))).not.toBe(handReference);
  });

  it('the same build in one process: the exact text is hashed, and the normalised checksum computed only when asked', () => {
    const code = tsc(ts, GENERATED, 'ES2022');
    const a = buildChecksum(instanceOf(code))!;
    const b = buildChecksum(instanceOf(code))!;
    expect(a.sourceHash).toBe(b.sourceHash);
    expect(a.checksum()).toMatch(/^v1:[0-9a-f]{64}$/);
  });
});

describe('a migration checksum across edits', () => {
  const reference = checksumOf(tsc(ts, HAND_WRITTEN, 'ES2022'));
  const edited = (edit: (source: string) => string) => {
    const source = edit(HAND_WRITTEN);
    expect(source).not.toBe(HAND_WRITTEN);
    return checksumOf(tsc(ts, source, 'ES2022'));
  };

  it.each<[string, (source: string) => string]>([
    ['a default in the SQL', (s) => s.replace("DEFAULT 'x'", "DEFAULT 'y'")],
    ['isNullable true to false', (s) => s.replace('isNullable: true', 'isNullable: false')],
    ['a length', (s) => s.replace("length: '255'", "length: '100'")],
    ['a column type', (s) => s.replace("type: 'int'", "type: 'bigint'")],
    ['two values swapped between keys', (s) => s.replace("name: 'age', type: 'int'", "name: 'int', type: 'age'")],
    ['a statement removed', (s) => s.replace(/await queryRunner\.query\(`CREATE INDEX[^;]*;/, '')],
    ['a threshold in a condition', (s) => s.replace('> 1000', '> 10')],
    ['another query runner method', (s) => s.replace('await queryRunner.query(`UPDATE', 'await queryRunner.manager.query(`UPDATE')],
  ])('%s: changed', (_, edit) => {
    expect(edited(edit)).not.toBe(reference);
  });

  it.each<[string, (source: string) => string]>([
    ['a comment', (s) => s.replace('// an index', '// the index on name')],
    ['the layout', (s) => s.replace(/\n\s+/g, '\n')],
    ['a local variable renamed', (s) => s.replaceAll('rows', 'found')],
    ['quote style', (s) => s.replace("const table = 'user'", 'const table = "user"')],
    ['down() only', (s) => s.replace('DROP TABLE "user"', 'DROP TABLE IF EXISTS "user"')],
  ])('%s: unchanged', (_, edit) => {
    expect(edited(edit)).toBe(reference);
  });
});

describe('normalisedTokens', () => {
  it('keeps literals, numbers, member names and object keys; drops locals, keywords, helpers and layout', () => {
    expect(normalisedTokens('async up(q) { await q.query(`A ${t} B`, [1e3, !0, void 0]); return { k: "v", s }; }')).toEqual([
      'm:query',
      's:A ',
      's: B',
      'n:1000',
      'l:true',
      'k:k',
      's:v',
      'k:s',
    ]);
  });

  it("CommonJS output's import bindings read as ESM's names: dropped like any local", () => {
    expect(
      normalisedTokens('async up(q) { await (0, helpers_1.addAuditColumns)(q, "users"); new typeorm_1.TableColumn({ a: 1 }); }'),
    ).toEqual(normalisedTokens('async up(q) { await addAuditColumns(q, "users"); new TableColumn({ a: 1 }); }'));
    expect(normalisedTokens('up(q) { return import_typeorm.Table; }')).toEqual([]);
    // An enum's value is the migration's own word, whoever declares it.
    expect(normalisedTokens('up(q) { return q.query(x, [Status.Active]); }')).toEqual(['m:query', 'm:Active']);
  });

  it('a sign, a comparison and separate arguments count; strings joined by + read as one', () => {
    expect(normalisedTokens('up() { f({ default: -1 }); }')).not.toEqual(normalisedTokens('up() { f({ default: 1 }); }'));
    expect(normalisedTokens('up() { if (n > 1) g(); }')).not.toEqual(normalisedTokens('up() { if (n < 1) g(); }'));
    expect(normalisedTokens("up(q) { q.query('A $1', ['x']); }")).toEqual(['m:query', 's:A $1', 's:x']);
    expect(normalisedTokens('up(q) { q.query("A " + "B"); }')).toEqual(normalisedTokens('up(q) { q.query("A B"); }'));
  });

  it('a native function has no checksum', () => {
    expect(buildChecksum({ up: Math.max, down: Math.min } as unknown as MigrationInterface)).toBeUndefined();
  });
});
