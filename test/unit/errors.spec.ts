import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as library from '../../lib/index.js';

describe('the public errors', () => {
  const errors = Object.entries(library).filter(([name, value]) => /^[A-Z]\w*Error$/.test(name) && typeof value === 'function');

  it('are all exported, and every one is an AutoMigratorError (which a migration’s or driver’s own error is not)', () => {
    expect(errors.map(([name]) => name).sort()).toEqual(
      [
        'AutoMigratorConfigError',
        'AutoMigratorError',
        'AutoMigratorInvariantError',
        'DataSourceConnectionError',
        'DeployCheckError',
        'MigrationConnectionLostError',
        'MigrationDirtyError',
        'MigrationFailedError',
        'MigrationHistoryError',
        'MigrationInterruptedError',
        'MigrationLockError',
        'MigrationLockTimeoutError',
        'PendingMigrationsError',
        'PreviewStoppedError',
        'TenantMigrationsError',
      ].sort(),
    );
    for (const [name, value] of errors) {
      if (name === 'AutoMigratorError') continue;
      expect(
        Object.prototype.isPrototypeOf.call(library.AutoMigratorError.prototype, (value as { prototype: object }).prototype),
        name,
      ).toBe(true);
    }
    expect(new Error('x')).not.toBeInstanceOf(library.AutoMigratorError);
  });

  it('keep their own names', () => {
    expect(new library.AutoMigratorConfigError('bad').name).toBe('AutoMigratorConfigError');
    expect(new library.MigrationLockError('lost')).toBeInstanceOf(library.AutoMigratorError);
  });

  it('live in lib/errors/, and lib/ throws no bare Error (a typed error, or invariant())', () => {
    const lib = resolve(import.meta.dirname, '../../lib');
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
      );
    const found: string[] = [];
    for (const file of files(lib)) {
      const text = readFileSync(file, 'utf8');
      const where = relative(lib, file);
      if (/\bthrow new Error\(/.test(text)) found.push(`${where}: throw new Error(`);
      if (!where.startsWith('errors/') && /\bclass \w+Error extends\b/.test(text))
        found.push(`${where}: an error class outside lib/errors/`);
    }
    expect(found).toEqual([]);
  });
});
