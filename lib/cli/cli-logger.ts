import type { LoggerService } from '@nestjs/common';
import { SecretRedactor } from '../util/secret-redactor.js';

/**
 * Nest's own bootstrap chatter, not worth a CLI user's attention; and its ExceptionHandler's line
 * for a boot that failed, which the CLI prints itself, once, from the error it is given.
 */
const QUIET_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'NestApplicationContext',
  'RoutesResolver',
  'RouterExplorer',
  'ExceptionHandler',
]);

/** Progress lines for the CLI, on stderr so that stdout holds only the result (and stays JSON with --json). */
export class CliLogger implements LoggerService {
  /** Until the DataSources are known: passwords in URLs and `password=` pairs only. */
  private redactor = new SecretRedactor();

  constructor(private readonly write: (line: string) => void) {}

  /** From now on, also remove the passwords configured on the DataSources this redactor knows. */
  useRedactor(redactor: SecretRedactor): void {
    this.redactor = redactor;
  }

  log(message: unknown, context?: unknown) {
    this.print('', message, context);
  }
  warn(message: unknown, context?: unknown) {
    this.print('warning: ', message, context);
  }
  error(message: unknown, ...rest: unknown[]) {
    // Nest passes (message, stack, context); the stack is not for the CLI's reader.
    this.print('error: ', message, rest.at(-1));
  }
  fatal(message: unknown, ...rest: unknown[]) {
    this.print('fatal: ', message, rest.at(-1));
  }
  debug() {}
  verbose() {}

  private print(prefix: string, message: unknown, context: unknown) {
    if (typeof context === 'string' && QUIET_CONTEXTS.has(context)) return;
    this.write(`${prefix}${this.redactor.redact(message instanceof Error ? message.message : String(message))}\n`);
  }
}
