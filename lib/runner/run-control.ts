/**
 * Lets the application stop migrations in progress (shutdown): a stopped run starts no further
 * migration, and the statement in flight can be cancelled on its session.
 */
export class RunControl {
  private stopReason: string | undefined;
  private canceller: (() => Promise<void>) | undefined;
  private readonly aborter = new AbortController();

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

  stop(reason: string): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    this.aborter.abort(reason);
  }

  /** Registers how to cancel the statement running now (undefined: nothing cancellable runs). */
  setCanceller(canceller: (() => Promise<void>) | undefined): void {
    this.canceller = canceller;
  }

  /** Cancels the statement in flight, if one can be; true when a cancel was sent. */
  async cancelInFlight(): Promise<boolean> {
    if (!this.canceller) return false;
    await this.canceller();
    return true;
  }
}
