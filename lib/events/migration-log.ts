import type { Logger } from '@nestjs/common';
import { listNames } from '../util/name-list.js';
import { ms, plural, seconds } from '../util/quantities.js';
import type { MigrationEvent } from './migration-events.js';

/** How the log names what an event is about, and whether it is a tenant (whose progress lines go to `debug`). */
export interface EventSource {
  readonly label: string;
  readonly tenant: unknown;
  readonly transaction: string;
}

/** A per-DataSource detail line: `log` for a DataSource, `debug` for each of possibly thousands of tenants. */
export function logDetail(logger: Logger, source: Pick<EventSource, 'tenant'>, message: string): void {
  if (source.tenant) logger.debug(message);
  else logger.log(message);
}

/**
 * The log's progress lines, written from the events (a subscriber): what is pending, the lock
 * wait, each migration applied or reverted. Per-migration lines are `log` for a DataSource and `debug` for a
 * tenant (there may be thousands). Failures are logged where they are described, once.
 */
export function logProgress(logger: Logger, event: MigrationEvent, source: EventSource): void {
  const detail = (message: string) => logDetail(logger, source, message);
  switch (event.type) {
    case 'run-started':
      // Empty when the database could not be read before the strategy ran.
      if (event.pending.length > 0) {
        detail(
          `${source.label}: ${plural(event.pending.length, 'pending migration')} (transaction mode '${source.transaction}'): ${listNames(event.pending)}`,
        );
      }
      return;
    case 'lock-waiting':
      logger.log(
        `${source.label}: waiting for ${event.lock}, held by ${event.holder ?? 'another process'} (${seconds(event.waitedMs)} of ${seconds(event.timeoutMs)})`,
      );
      return;
    case 'lock-acquired':
      logger.log(`${source.label}: acquired ${event.lock} after ${seconds(event.waitedMs)}`);
      return;
    case 'migration-finished':
      detail(`${source.label}: [${event.index}/${event.total}] ${event.migration} applied in ${ms(event.durationMs)}`);
      return;
    case 'migration-reverted':
      detail(`${source.label}: [${event.index}/${event.total}] ${event.migration} reverted in ${ms(event.durationMs)}`);
      return;
    default:
      return;
  }
}
