import type { LoggerService } from '@nestjs/common';

/** Nest's own bootstrap chatter, not worth a CLI user's attention. */
const QUIET_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'NestApplicationContext', 'RoutesResolver', 'RouterExplorer']);

/** Progress lines for the CLI, on stderr so that stdout holds only the result (and stays JSON with --json). */
export class CliLogger implements LoggerService {
  constructor(private readonly write: (line: string) => void) {}

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
    this.write(`${prefix}${message instanceof Error ? message.message : String(message)}\n`);
  }
}
