import { inspect } from 'node:util';
import type { DataSource } from 'typeorm';

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

  /**
   * A redacted copy of what a statement was bound to, or any other data (arrays and plain objects at
   * any depth; strings redacted, errors scrubbed); the value itself when it holds no secret.
   */
  data<T>(value: T): T {
    return this.redactData(value, new Set(), 0) as T;
  }

  /** The error's message, redacted. */
  message(error: unknown): string {
    if (error instanceof Error) return this.redact(error.message);
    return this.redact(String(error));
  }

  /**
   * Redacts, in place, every own property of the error and of every error it holds, at any depth
   * (`cause`, `driverError`, `errors`, or any other field): strings are redacted; arrays and plain
   * objects (`parameters`, a driver's `where`) are replaced by redacted copies, so that arrays the
   * caller passed in stay as they were; another object that would print a secret (a client, say)
   * is hidden from printing (made non-enumerable). Whoever prints the error later, with
   * `console.error`, `util.inspect` or `JSON.stringify`, prints no secret.
   */
  scrub<T>(error: T): T {
    if (typeof error === 'object' && error !== null) this.scrubObject(error, new Set(), 0);
    return error;
  }

  private scrubObject(target: object, seen: Set<object>, depth: number): void {
    if (seen.has(target) || depth > MAX_SCRUB_DEPTH) return;
    seen.add(target);
    for (const key of Object.getOwnPropertyNames(target)) {
      const descriptor = Object.getOwnPropertyDescriptor(target, key);
      if (!descriptor) continue;
      if (!('value' in descriptor)) {
        // An accessor (newer V8 makes an error's `stack` one): redact what it reads, through its setter.
        this.scrubAccessor(target as Record<string, unknown>, key);
        continue;
      }
      const value: unknown = descriptor.value;
      if (typeof value === 'string') {
        const redacted = this.redact(value);
        if (redacted !== value) replaceValue(target, key, descriptor, redacted);
      } else if (value instanceof Error) {
        this.scrubObject(value, seen, depth + 1);
      } else if (typeof value === 'object' && value !== null) {
        if (isPlainData(value)) {
          const copy = this.redactData(value, new Set(), 0);
          if (copy !== value) replaceValue(target, key, descriptor, copy);
        } else if (descriptor.enumerable && this.wouldPrintSecret(value)) {
          try {
            Object.defineProperty(target, key, { enumerable: false });
          } catch {
            // a non-configurable property: nothing more can be done for it
          }
        }
      }
    }
  }

  private scrubAccessor(target: Record<string, unknown>, key: string): void {
    try {
      const value = target[key];
      if (typeof value !== 'string') return;
      const redacted = this.redact(value);
      if (redacted !== value) target[key] = redacted;
    } catch {
      // a getter that throws, or no setter: nothing more can be done for it
    }
  }

  /** A redacted copy of arrays and plain objects holding a secret; the value itself when none does. */
  private redactData(value: unknown, seen: Set<object>, depth: number): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (typeof value !== 'object' || value === null) return value;
    if (value instanceof Error) {
      this.scrubObject(value, new Set(), depth);
      return value;
    }
    if (!isPlainData(value) || seen.has(value) || depth > MAX_SCRUB_DEPTH) return value;
    seen.add(value);
    let changed = false;
    const entries = Object.entries(value).map(([key, entry]) => {
      const redacted = this.redactData(entry, seen, depth + 1);
      if (redacted !== entry) changed = true;
      return [key, redacted] as const;
    });
    if (!changed) return value;
    return Array.isArray(value) ? entries.map(([, entry]) => entry) : Object.fromEntries(entries);
  }

  private wouldPrintSecret(value: object): boolean {
    let text: string;
    try {
      text = inspect(value, { depth: MAX_SCRUB_DEPTH, breakLength: Infinity });
    } catch {
      return false;
    }
    return this.redact(text) !== text;
  }
}

/** How deep scrub() looks into what an error holds. */
const MAX_SCRUB_DEPTH = 6;

function isPlainData(value: object): boolean {
  if (Array.isArray(value)) return true;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Sets an own data property, writable or not where it can be redefined. */
function replaceValue(target: object, key: string, descriptor: PropertyDescriptor, value: unknown): void {
  try {
    if (descriptor.writable) (target as Record<string, unknown>)[key] = value;
    else if (descriptor.configurable) Object.defineProperty(target, key, { ...descriptor, value });
  } catch {
    // a frozen object: nothing more can be done for it
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
