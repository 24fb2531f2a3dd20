import { describe, expect, it } from 'vitest';
import { Logger } from '@nestjs/common';
import { AUTO_MIGRATOR_PROGRESS_CONTEXT } from '../../lib/auto-migrator.constants.js';
import { CliLogger } from '../../lib/cli/cli-logger.js';
import { RunProgress } from '../../lib/operations/run-progress.js';
import { MigrationStateStore } from '../../lib/state/migration-state.js';
import { duration } from '../../lib/util/quantities.js';

/** A logger that keeps what it is given, with the context. */
class KeptLines extends Logger {
  readonly lines: Array<[string, unknown]> = [];
  override log(message: unknown, context?: unknown): void {
    this.lines.push([String(message), context]);
  }
}

function tenantsEnter(store: MigrationStateStore, names: readonly string[]): void {
  for (const name of names) store.apply({ type: 'run-queued', dataSource: `app/${name}`, tenant: { name, parent: 'app' } });
}
function tenantEnds(store: MigrationStateStore, name: string, status: 'done' | 'failed'): void {
  store.apply({ type: 'data-source-done', dataSource: `app/${name}`, status, applied: [], durationMs: 1 });
}

describe('a run’s progress lines', () => {
  it('tenants: finished, failed and left; from the second line on the rate and the time left; nothing when unchanged or all finished', () => {
    const store = new MigrationStateStore();
    const logger = new KeptLines();
    let now = 0;
    const tenants = Array.from({ length: 10 }, (_, i) => `t${i}`);
    const progress = new RunProgress(logger, store, [{ dataSource: 'app', tenants: tenants.length }], 1000, () => now);
    tenantsEnter(store, tenants);
    tenantEnds(store, 't0', 'done');
    tenantEnds(store, 't1', 'failed');
    expect(progress.tick()).toEqual(['DataSource "app": tenants 2 of 10 finished (1 done, 1 failed), 8 left']);
    expect(progress.tick()).toEqual([]);
    now = 2000;
    for (const name of ['t2', 't3', 't4', 't5']) tenantEnds(store, name, 'done');
    expect(progress.tick()).toEqual([
      'DataSource "app": tenants 6 of 10 finished (5 done, 1 failed), 4 left (2.0 tenants/s, about 2s left)',
    ]);
    expect(logger.lines.map(([, context]) => context)).toEqual([AUTO_MIGRATOR_PROGRESS_CONTEXT, AUTO_MIGRATOR_PROGRESS_CONTEXT]);
    for (const name of ['t6', 't7', 't8', 't9']) tenantEnds(store, name, 'done');
    now = 3000;
    expect(progress.tick()).toEqual([]);
  });

  it('a migration running longer than the interval: still running, for how long', () => {
    const store = new MigrationStateStore();
    const progress = new RunProgress(new KeptLines(), store, [{ dataSource: 'default', tenants: 0 }], 60_000);
    store.apply({ type: 'run-started', dataSource: 'default', pending: ['Backfill1700000000001'] });
    store.apply(
      { type: 'migration-started', dataSource: 'default', migration: 'Backfill1700000000001', index: 1, total: 1 },
      new Date(Date.now() - 130_000),
    );
    expect(progress.tick()).toEqual([
      expect.stringMatching(/^DataSource "default": \[1\/1\] Backfill1700000000001 still running after 2m1\ds$/),
    ]);
    store.apply({
      type: 'migration-finished',
      dataSource: 'default',
      migration: 'Backfill1700000000001',
      durationMs: 1,
      index: 1,
      total: 1,
    });
    expect(progress.tick()).toEqual([]);
  });

  it('durations read as people write them', () => {
    expect([duration(4_400), duration(130_000), duration(3_900_000)]).toEqual(['4s', '2m10s', '1h05m']);
  });

  it('the CLI on a terminal: progress lines replace each other on one line; any other line starts clean', () => {
    const written: string[] = [];
    const logger = new CliLogger((text) => written.push(text), true);
    logger.log('DataSource "app": tenants 2 of 10 finished', AUTO_MIGRATOR_PROGRESS_CONTEXT);
    logger.log('DataSource "app": tenants 6 of 10 finished', AUTO_MIGRATOR_PROGRESS_CONTEXT);
    logger.log('DataSource "app": 10 tenants done', 'AutoMigrator');
    logger.finish();
    expect(written).toEqual([
      '\r\x1b[2KDataSource "app": tenants 2 of 10 finished',
      '\r\x1b[2KDataSource "app": tenants 6 of 10 finished',
      '\r\x1b[2K',
      'DataSource "app": 10 tenants done\n',
    ]);
    // Not a terminal: every line on its own.
    const piped: string[] = [];
    new CliLogger((text) => piped.push(text)).log('DataSource "app": tenants 2 of 10 finished', AUTO_MIGRATOR_PROGRESS_CONTEXT);
    expect(piped).toEqual(['DataSource "app": tenants 2 of 10 finished\n']);
  });
});
