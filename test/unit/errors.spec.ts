import { describe, expect, it } from 'vitest';
import * as library from '../../lib/index.js';

describe('the public errors', () => {
  const errors = Object.entries(library).filter(([name, value]) => /^[A-Z]\w*Error$/.test(name) && typeof value === 'function');

  it('are all exported, and every one is an AutoMigratorError (which a migration’s or driver’s own error is not)', () => {
    expect(errors.map(([name]) => name).sort()).toEqual(
      [
        'AutoMigratorConfigError',
        'AutoMigratorError',
        'DataSourceConnectionError',
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
});
