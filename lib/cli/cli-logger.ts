import type { LoggerService } from '@nestjs/common';
import { AUTO_MIGRATOR_PROGRESS_CONTEXT } from '../auto-migrator.constants.js';
import { SecretRedactor } from '../util/secret-redactor.js';

/** Back to the start of the line, and clear it. */
const CLEAR_LINE = '\r\x1b[2K';

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

  /** A progress line is on the terminal, to be replaced by the next line. */
  private liveLine = false;

  /** `live`: stderr is a terminal, where progress lines replace each other on one line. */
  constructor(
    private readonly write: (line: string) => void,
    private readonly live = false,
  ) {}

  /** Ends a live progress line, so what follows starts on a line of its own. */
  finish(): void {
    if (this.liveLine) this.write(CLEAR_LINE);
    this.liveLine = false;
  }

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
    const text = `${prefix}${this.redactor.redact(message instanceof Error ? message.message : String(message))}`;
    if (this.live && context === AUTO_MIGRATOR_PROGRESS_CONTEXT) {
      this.write(`${CLEAR_LINE}${text}`);
      this.liveLine = true;
      return;
    }
    this.finish();
    this.write(`${text}\n`);
  }
}
