import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';

const TRUE_WORDS = ['true', '1', 'yes', 'on'] as const;
const FALSE_WORDS = ['false', '0', 'no', 'off', ''] as const;

/**
 * Parses a RUN_MIGRATIONS-style value. True words: true, 1, yes, on. False words: false, 0,
 * no, off, the empty string, or no value at all. Case-insensitive, trimmed. Anything else
 * throws, naming `source` and the accepted words.
 */
export function parseRunMigrationsFlag(value: unknown, source: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') {
    throw new AutoMigratorConfigError(`${source} must be a boolean or a string; got ${typeof value}. ${acceptedWords()}`);
  }
  const word = value.trim().toLowerCase();
  if ((TRUE_WORDS as readonly string[]).includes(word)) return true;
  if ((FALSE_WORDS as readonly string[]).includes(word)) return false;
  throw new AutoMigratorConfigError(
    `${source} has the value ${JSON.stringify(value)}, which is neither true nor false. ${acceptedWords()}`,
  );
}

function acceptedWords(): string {
  return (
    `Accepted (case-insensitive): ${TRUE_WORDS.join(', ')} to run migrations; ` +
    `${FALSE_WORDS.filter(Boolean).join(', ')}, empty or unset to skip them.`
  );
}
