import type { Logger } from '@nestjs/common';
import type { MigrationEvent } from '../events/migration-events.js';
import { describeStarted } from '../history/started-migrations.js';
import { LISTED_NAMES } from '../util/name-list.js';
import type { DataSourceStatus } from './migration-operations.js';

/**
 * While migrations are disabled here (another process, e.g. a release Job, applies them): what the
 * database has pending, read at most once per `ttlMs` and reported as `pending-counted` events, so
 * readiness comes from the state as when migrating. `watch()` (whenDisabled 'wait') also reads on
 * its own until nothing is pending, logging what it waits for.
 */
export class PendingPoller {
  private last?: { readonly at: number; readonly read: Promise<void> };
  private timer?: NodeJS.Timeout;
  private lastMessage?: string;
  /** After stop(): a read still in flight then schedules nothing more. */
  private stopped = false;

  constructor(
    private readonly readStatuses: () => Promise<readonly DataSourceStatus[]>,
    private readonly dataSources: readonly string[],
    private readonly emit: (event: MigrationEvent) => void,
    private readonly logger: Logger,
    private readonly describe: (error: unknown) => string,
    private readonly ttlMs: number,
  ) {}

  /** Counts again unless the last count is younger than `ttlMs` (or in flight). Never rejects. */
  fresh(): Promise<void> {
    if (!this.last || Date.now() - this.last.at >= this.ttlMs) this.last = { at: Date.now(), read: this.count() };
    return this.last.read;
  }

  /** Reports the counts from statuses already read (at boot). */
  record(statuses: readonly DataSourceStatus[]): void {
    for (const status of statuses) {
      this.emit({
        type: 'pending-counted',
        dataSource: status.dataSource,
        pending: status.pending.length,
        names: status.pending.slice(0, LISTED_NAMES).map((migration) => migration.name),
        dirty: status.dirty[0],
      });
    }
    this.last = { at: Date.now(), read: Promise.resolve() };
  }

  /** whenDisabled 'wait': keep counting every `ttlMs` until nothing is pending, logging what it waits for. */
  watch(statuses: readonly DataSourceStatus[]): void {
    if (this.stopped) return;
    const waiting = statuses.filter((status) => status.pending.length > 0);
    if (waiting.length === 0) {
      this.logger.log('No pending migrations: ready');
      return;
    }
    const message = `Waiting for another process to apply ${waiting
      .map(
        ({ dataSource, pending, dirty }) =>
          `${pending.length} pending migration(s) of "${dataSource}"${dirty[0] ? ` (dirty: ${describeStarted(dirty[0])}; see "resolve")` : ''}`,
      )
      .join(', ')}; readiness stays down until then`;
    // Once, and again when the counts change; every poll in between at debug level.
    if (message === this.lastMessage) this.logger.debug(message);
    else this.logger.log(message);
    this.lastMessage = message;
    this.timer = setTimeout(() => {
      this.readStatuses()
        .then((next) => {
          if (this.stopped) return;
          this.record(next);
          this.watch(next);
        })
        .catch((error: unknown) => {
          // A read that failed because the application is closing is no news.
          if (this.stopped) return;
          this.logger.warn(`Could not read pending migrations (${this.describe(error)}); trying again`);
          this.watch(statuses);
        });
    }, this.ttlMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async count(): Promise<void> {
    try {
      this.record(await this.readStatuses());
    } catch (error) {
      this.last = undefined;
      const message = `could not read pending migrations: ${this.describe(error)}`;
      for (const dataSource of this.dataSources) this.emit({ type: 'pending-counted', dataSource, pending: 0, error: message });
    }
  }
}
