/**
 * Lets the application stop migrations in progress (shutdown): a stopped run starts no further
 * migration, and the statement in flight can be cancelled on its session.
 */
export class RunControl {
  private stopReason: string | undefined;
  private canceller: (() => Promise<void>) | undefined;

  get stopped(): boolean {
    return this.stopReason !== undefined;
  }

  /** Why the run was stopped (e.g. "SIGTERM"), once it was. */
  get reason(): string | undefined {
    return this.stopReason;
  }

  stop(reason: string): void {
    this.stopReason ??= reason;
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
