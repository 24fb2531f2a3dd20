import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  type: string;
  files: string[];
  exports: Record<string, { types?: string; default?: string } | string>;
  peerDependencies: Record<string, string>;
  dependencies?: Record<string, string>;
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('package manifest', () => {
  it('is ESM, ships only dist, and maps "." to the built entry with types', () => {
    expect(pkg.type).toBe('module');
    expect(pkg.files).toEqual(['dist']);
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
  });

  it('declares every package lib/ imports as a peer dependency', () => {
    const imported = new Set<string>();
    for (const file of sourceFiles(join(root, 'lib'))) {
      for (const match of readFileSync(file, 'utf8').matchAll(/from '([^.'][^']*)'/g)) {
        const specifier = match[1]!;
        if (specifier.startsWith('node:')) continue;
        imported.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
      }
    }
    expect([...imported].sort()).toEqual(
      Object.keys(pkg.peerDependencies)
        .filter((name) => imported.has(name))
        .sort(),
    );
    expect(pkg.dependencies ?? {}).toEqual({});
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
});
