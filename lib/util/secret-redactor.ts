import type { DataSource } from 'typeorm';
import { errorChain } from './error-chain.js';

const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]*:)([^@\s/]+)@/gi;
// Not MySQL/MariaDB's "(using password: YES)" / "(using password: NO)", which says whether one was sent.
const KEY_VALUE_PASSWORD = /\b(password|passwd|pwd)(\s*[=:]\s*)(?!(?:yes|no)\)|(?:yes|no)$)("[^"]*"|'[^']*'|[^\s;&,]+)/gi;
const SECRET_KEY = /pass(word)?|passwd|pwd|secret|token/i;
const MASK = '***';
const POSSIBLE_PASSWORD_KEY = /passw|pwd/i;
/** Literal secrets shorter than this are not searched for (they would mangle ordinary words). */
const MIN_LITERAL_SECRET_LENGTH = 4;

/**
 * Removes credentials from text before it is logged, thrown or shown in health output:
 * passwords in URLs (`scheme://user:***@host`), `password=...` pairs, and the literal
 * password values found in the DataSources' options.
 */
export class SecretRedactor {
  private readonly secrets: readonly string[];

  constructor(secrets: Iterable<string> = []) {
    const unique = new Set<string>();
    for (const secret of secrets) {
      if (secret.length < MIN_LITERAL_SECRET_LENGTH) continue;
      unique.add(secret);
      const encoded = encodeURIComponent(secret);
      if (encoded !== secret) unique.add(encoded);
    }
    // Longest first, so a secret that contains another is replaced whole.
    this.secrets = [...unique].sort((a, b) => b.length - a.length);
  }

  /** A redactor that knows the passwords configured on these DataSources. */
  static forDataSources(dataSources: Iterable<DataSource>): SecretRedactor {
    const secrets: string[] = [];
    for (const dataSource of dataSources) collectSecrets(dataSource.options, secrets, 0);
    return new SecretRedactor(secrets);
  }

  redact(text: string): string {
    // Fast path for the many lines that cannot hold a secret (per-migration log lines, say).
    if (this.secrets.length === 0 && !text.includes('://') && !POSSIBLE_PASSWORD_KEY.test(text)) return text;
    let result = text.replace(URL_CREDENTIALS, `$1${MASK}@`).replace(KEY_VALUE_PASSWORD, `$1$2${MASK}`);
    for (const secret of this.secrets) result = result.split(secret).join(MASK);
    return result;
  }

  /** The error's message, redacted. */
  message(error: unknown): string {
    if (error instanceof Error) return this.redact(error.message);
    return this.redact(String(error));
  }

  /**
   * Redacts, in place, the message and stack of the error and of every error it wraps
   * (`cause`, `driverError`, `errors`), so that whoever prints it later prints no secret.
   */
  scrub<T>(error: T): T {
    for (const record of errorChain(error)) {
      for (const key of ['message', 'stack', 'query', 'sql', 'sqlMessage', 'detail', 'hint']) {
        const value = record[key];
        if (typeof value !== 'string') continue;
        const redacted = this.redact(value);
        if (redacted === value) continue;
        try {
          record[key] = redacted;
        } catch {
          // a read-only property: nothing more can be done for it
        }
      }
    }
    return error;
  }
}

function collectSecrets(value: unknown, into: string[], depth: number): void {
  if (depth > 4 || typeof value !== 'object' || value === null) return;
  for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
    if (typeof entry === 'string') {
      if (SECRET_KEY.test(key)) into.push(entry);
      if (key === 'url') {
        const password = urlPassword(entry);
        if (password) into.push(password);
      }
    } else if (typeof entry === 'object' && entry !== null && !Array.isArray(entry) && !isClassInstance(entry)) {
      collectSecrets(entry, into, depth + 1);
    }
  }
}

function urlPassword(url: string): string | undefined {
  try {
    const password = new URL(url).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}

function isClassInstance(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype !== Object.prototype && prototype !== null;
}
