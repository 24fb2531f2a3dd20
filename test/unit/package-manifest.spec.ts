import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  type: string;
  files: string[];
  exports: Record<string, { types?: string; default?: string } | string>;
  scripts: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dependencies?: Record<string, string>;
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('package manifest', () => {
  it('ships only dist, as CommonJS (one copy for require and import), and maps "." to the built entry with types', () => {
    // The repository is ESM (tests, sample app); lib/ and dist/ are CommonJS through their own package.json.
    expect(pkg.type).toBe('module');
    expect(JSON.parse(readFileSync(join(root, 'lib/package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
    expect(JSON.parse(readFileSync(join(root, 'dist/package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
    expect(pkg.files).toEqual(['dist']);
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    // git dependencies run prepare (not prepack); npm pack runs it too.
    expect(pkg.scripts['prepare']).toBe('npm run build:lib');
    expect(pkg.scripts['prepack']).toBeUndefined();
  });

  it('accepts Nest 11 and 12, TypeORM 0.3 and 1.x; Terminus and ConfigModule are optional', () => {
    expect(pkg.peerDependencies['@nestjs/common']).toBe('^11.0.0 || ^12.0.0');
    expect(pkg.peerDependencies['typeorm']).toMatch(/^\^0\.3\.\d+ \|\| \^1\.\d+\.\d+$/);
    expect(pkg.peerDependenciesMeta).toEqual({ '@nestjs/config': { optional: true }, '@nestjs/terminus': { optional: true } });
  });

  it('gives require and import the same class objects in one process (no dual-package hazard)', () => {
    const script = [
      "import { createRequire } from 'node:module';",
      "const imported = await import('nestjs-auto-migrator');",
      "const required = createRequire(import.meta.url)('nestjs-auto-migrator');",
      "const names = ['AutoMigratorModule', 'AutoMigratorService', 'MigrationStrategy', 'MigrationsHealthIndicator', 'TenantSource'];",
      'console.log(JSON.stringify(names.map((name) => [name, typeof imported[name], imported[name] === required[name]])));',
    ].join('\n');
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    for (const [name, type, same] of JSON.parse(output) as [string, string, boolean][]) {
      expect({ name, type: type === 'undefined' ? 'missing' : 'present', same }).toEqual({ name, type: 'present', same: true });
    }
  });

  it("declares every package lib/ imports: the application's own (Nest, TypeORM, rxjs) as peers; only self-contained parsers as dependencies", () => {
    const imported = new Set<string>();
    for (const file of sourceFiles(join(root, 'lib'))) {
      for (const match of readFileSync(file, 'utf8').matchAll(/from '([^.'][^']*)'/g)) {
        const specifier = match[1]!;
        if (specifier.startsWith('node:')) continue;
        imported.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
      }
    }
    expect([...imported].sort()).toEqual(
      [...Object.keys(pkg.peerDependencies), ...Object.keys(pkg.dependencies ?? {})].filter((name) => imported.has(name)).sort(),
    );
    // acorn (the tokenizer of migration checksums): plain JavaScript, no dependencies of its own.
    // libpg-query (check's SQL parser): WebAssembly, nothing compiled or downloaded at install.
    // Neither shares state with the application.
    expect(Object.keys(pkg.dependencies ?? {})).toEqual(['acorn', 'libpg-query']);
  });

  it('resolves by its own name from a separate Node process (the built package)', () => {
    const output = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', "const m = await import('nestjs-auto-migrator'); console.log(Object.keys(m).sort().join(','))"],
      { cwd: root, encoding: 'utf8' },
    );
    const names = output.trim().split(',');
    for (const name of [
      'AutoMigratorModule',
      'AutoMigratorService',
      'MigrationStrategy',
      'FailFastStrategy',
      'ContinueOnFailureStrategy',
      'RecreateOnFailureStrategy',
      'RetryStrategy',
      'MigrationsHealthIndicator',
      'MigrationFailedError',
      'AutoMigratorConfigError',
    ]) {
      expect(names).toContain(name);
    }
  });

  it('ships its source maps with their sources: each .js.map carries the TypeScript it maps (lib/ is not shipped); no declaration maps', () => {
    const maps = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? maps(join(dir, entry.name)) : entry.name.endsWith('.map') ? [join(dir, entry.name)] : [],
      );
    const all = maps(join(root, 'dist'));
    expect(all.filter((file) => file.endsWith('.d.ts.map'))).toEqual([]);
    expect(all.length).toBeGreaterThan(50);
    const without = all.filter((file) => {
      const map = JSON.parse(readFileSync(file, 'utf8')) as { sources: string[]; sourcesContent?: Array<string | null> };
      return map.sourcesContent?.length !== map.sources.length || map.sourcesContent.some((content) => !content);
    });
    expect(without).toEqual([]);
  });
});
