import { Logger, type LoggerService } from '@nestjs/common';

/**
 * The library's logger: Nest's Logger with the library's context by default, the given
 * LoggerService (with that context as the last argument), or nothing for `false`.
 */
export function libraryLogger(logger: LoggerService | false | undefined, context: string): Logger {
  if (logger === undefined) return new Logger(context);
  return new DelegatingLogger(logger === false ? undefined : logger, context);
}

class DelegatingLogger extends Logger {
  constructor(
    private readonly target: LoggerService | undefined,
    private readonly logContext: string,
  ) {
    super(logContext);
  }

  override log(message: unknown, context?: string): void {
    this.target?.log(message, context ?? this.logContext);
  }
  override warn(message: unknown): void {
    this.target?.warn(message, this.logContext);
  }
  override error(message: unknown, stack?: string): void {
    this.target?.error(message, stack, this.logContext);
  }
  override fatal(message: unknown, stack?: string): void {
    if (this.target?.fatal) this.target.fatal(message, stack, this.logContext);
    else this.target?.error(message, stack, this.logContext);
  }
  override debug(message: unknown): void {
    this.target?.debug?.(message, this.logContext);
  }
  override verbose(message: unknown): void {
    this.target?.verbose?.(message, this.logContext);
  }
}
