import { describe, expect, it } from 'vitest';
import { AutoMigratorConfigError } from '../../lib/index.js';
import { parseRunMigrationsFlag } from '../../lib/options/run-migrations-flag.js';

describe('parseRunMigrationsFlag', () => {
  it.each(['true', 'TRUE', ' yes ', '1', 'on', 'On', '\ttrue\n'])('%j is true', (value) => {
    expect(parseRunMigrationsFlag(value, 'RUN_MIGRATIONS')).toBe(true);
  });
  it.each(['false', 'FALSE', ' no', '0', 'off', '', '   '])('%j is false', (value) => {
    expect(parseRunMigrationsFlag(value, 'RUN_MIGRATIONS')).toBe(false);
  });
  it('unset and booleans', () => {
    expect(parseRunMigrationsFlag(undefined, 'RUN_MIGRATIONS')).toBe(false);
    expect(parseRunMigrationsFlag(null, 'RUN_MIGRATIONS')).toBe(false);
    expect(parseRunMigrationsFlag(true, 'x')).toBe(true);
    expect(parseRunMigrationsFlag(false, 'x')).toBe(false);
  });
  it.each(['maybe', 'ture', '2', 'y', 'enabled'])('%j fails, naming the source and the accepted words', (value) => {
    expect(() => parseRunMigrationsFlag(value, 'process.env.RUN_MIGRATIONS')).toThrow(AutoMigratorConfigError);
    expect(() => parseRunMigrationsFlag(value, 'process.env.RUN_MIGRATIONS')).toThrow(
      `process.env.RUN_MIGRATIONS has the value ${JSON.stringify(value)}, which is neither true nor false. Accepted (case-insensitive): true, 1, yes, on to run migrations; false, 0, no, off, empty or unset to skip them.`,
    );
  });
  it('a number fails naming its type', () => {
    expect(() => parseRunMigrationsFlag(1, 'option runMigrations')).toThrow(/must be a boolean or a string; got number/);
  });
});
