import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DataSourceStatus } from '../../lib/operations/migration-operations.js';
import { PendingPoller } from '../../lib/operations/pending-poller.js';

const pending: DataSourceStatus = {
  dataSource: 'default',
  applied: [],
  pending: [{ name: 'One1700000000001', timestamp: 1700000000001 }],
  unknown: [],
  outOfOrder: [],
  dirty: [],
  changed: [],
};

class KeptLines extends Logger {
  readonly warnings: string[] = [];
  override log(): void {}
  override debug(): void {}
  override warn(message: unknown): void {
    this.warnings.push(String(message));
  }
}

describe("whenDisabled 'wait': the poller", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([['answers'], ['fails']])('stopped while a read is in flight that then %s: nothing more is read or logged', async (outcome) => {
    vi.useFakeTimers();
    let settle!: (statuses: DataSourceStatus[] | Error) => void;
    const reads = vi.fn(
      () =>
        new Promise<DataSourceStatus[]>((resolve, reject) => {
          settle = (value) => (value instanceof Error ? reject(value) : resolve(value));
        }),
    );
    const logger = new KeptLines();
    const poller = new PendingPoller(
      reads,
      ['default'],
      () => undefined,
      logger,
      (error) => String(error),
      10,
    );
    poller.watch([pending]);
    await vi.advanceTimersByTimeAsync(10);
    expect(reads).toHaveBeenCalledTimes(1);
    // The application closes (its DataSource with it) while that read is out.
    poller.stop();
    settle(outcome === 'answers' ? [pending] : new Error('Unknown database'));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(reads).toHaveBeenCalledTimes(1);
    expect(logger.warnings).toEqual([]);
  });
});
