import type { Logger } from '@nestjs/common';

/** How long, after cancelling the statement in flight, shutdown still waits for the run to end. */
const AFTER_CANCEL_WAIT_MS = 10_000;

/**
 * The run in progress, and how the application stops it (shutdown): a stopped run starts no
 * further migration, shutdown waits a grace period for the one in flight, then cancels its
 * statement on its session.
 */
export class RunControl {
  private stopReason: string | undefined;
  private canceller: (() => Promise<void>) | undefined;
  private readonly aborter = new AbortController();
  private running = false;
  private finished: Promise<void> = Promise.resolve();
  private stopping?: Promise<void>;

  get stopped(): boolean {
    return this.stopReason !== undefined;
  }

  /** Why the run was stopped (e.g. "SIGTERM"), once it was. */
  get reason(): string | undefined {
    return this.stopReason;
  }

  /** Aborted (with the reason) once the run is stopped: strategies pass it to their waits. */
  get signal(): AbortSignal {
    return this.aborter.signal;
  }

  /** Registers how to cancel the statement running now (undefined: nothing cancellable runs). */
  setCanceller(canceller: (() => Promise<void>) | undefined): void {
    this.canceller = canceller;
  }

  /** Resolves when the tracked work has finished, whatever the outcome. */
  whenFinished(): Promise<void> {
    return this.finished;
  }

  /**
   * Marks `work` as the run in progress (what shutdown waits for), and, while it runs, stops it on
   * SIGTERM/SIGINT where the application handles those signals (enableShutdownHooks).
   */
  track<T>(work: Promise<T>, shutdown: (reason: string) => Promise<void>): Promise<T> {
    this.running = true;
    const signals = (['SIGTERM', 'SIGINT'] as const).filter((signal) => process.listenerCount(signal) > 0);
    const onSignal = (signal: NodeJS.Signals) => void shutdown(signal);
    for (const signal of signals) process.on(signal, onSignal);
    this.finished = work.then(
      () => this.untrack(signals, onSignal),
      () => this.untrack(signals, onSignal),
    );
    return work;
  }

  private untrack(signals: readonly NodeJS.Signals[], onSignal: (signal: NodeJS.Signals) => void): void {
    this.running = false;
    for (const signal of signals) process.off(signal, onSignal);
  }

  /**
   * Stops the run in progress, if any: no further migration starts; waits up to `graceMs` for the
   * one in flight, then cancels its statement (the database rolls it back). Once per run.
   */
  shutdown(reason: string, graceMs: number, logger: Logger, describe: (error: unknown) => string): Promise<void> {
    if (!this.running) return Promise.resolve();
    this.stopping ??= this.stopRun(reason, graceMs, logger, describe);
    return this.stopping;
  }

  private async stopRun(reason: string, graceMs: number, logger: Logger, describe: (error: unknown) => string): Promise<void> {
    this.stopReason = reason;
    this.aborter.abort(reason);
    logger.warn(`${reason}: stopping migrations; waiting up to ${graceMs} ms (shutdownGraceMs) for the one in flight`);
    if (await settlesWithin(this.finished, graceMs)) return;
    logger.warn(`${reason}: grace period over; cancelling the statement in flight, which the database rolls back`);
    // The cancel goes over another connection, which a network partition leaves unanswered: bounded too.
    const cancel = (this.canceller ? this.canceller().then(() => true) : Promise.resolve(false)).catch((error: unknown) => {
      logger.error(`Cancelling the statement in flight failed: ${describe(error)}`);
      return false;
    });
    const cancelled = (await settlesWithin(cancel, AFTER_CANCEL_WAIT_MS)) && (await cancel);
    if (!cancelled || !(await settlesWithin(this.finished, AFTER_CANCEL_WAIT_MS))) {
      logger.error(
        `${reason}: the migration in flight did not stop; its connection closes with the DataSource and the database rolls back what did not commit`,
      );
    }
  }
}

/** True when `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
