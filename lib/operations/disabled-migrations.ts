import type { Logger } from '@nestjs/common';
import type { WhenDisabled } from '../options/auto-migrator-options.interface.js';
import { dataSourceLabel } from '../util/data-source-label.js';
import { listNames } from '../util/name-list.js';
import { plural } from '../util/quantities.js';
import type { SecretRedactor } from '../util/secret-redactor.js';
import type { DataSourceStatus, MigrationOperations } from './migration-operations.js';
import { PendingPoller } from './pending-poller.js';

/** How the application behaves while migrations are disabled in it (see the option `whenDisabled`). */
export interface DisabledSettings {
  readonly mode: WhenDisabled;
  /** What turns migrations on (e.g. `RUN_MIGRATIONS`), named in the lines it logs. */
  readonly source: string;
  readonly pendingCheckTtlMs: number;
}

/**
 * Migrations disabled here: 'skip' reads and warns what is pending, 'verify' fails the boot when
 * anything is pending, 'wait' boots and keeps counting until another process has applied
 * everything. In every mode a changed migration is warned of, or refused with changedMigrations:
 * 'fail', as when this process migrates ('verify' and 'wait' judge the whole history). Readiness, in every mode, is the last count (refreshed at most once per
 * `pendingCheckTtlMs`, see {@link fresh}).
 */
export class DisabledMigrations {
  private readonly poller: PendingPoller;

  constructor(
    private readonly operations: MigrationOperations,
    private readonly settings: DisabledSettings,
    private readonly logger: Logger,
    private readonly redactor: SecretRedactor,
  ) {
    this.poller = new PendingPoller(
      () => operations.readStatuses(),
      operations.plans.map((plan) => plan.name),
      (event) => operations.report(event),
      logger,
      (error) => redactor.message(error),
      settings.pendingCheckTtlMs,
    );
  }

  /** At bootstrap: reports every DataSource disabled, reads what is pending and acts by mode. */
  async start(): Promise<void> {
    const { operations, settings } = this;
    const { plans } = operations;
    for (const plan of plans) operations.report({ type: 'disabled', dataSource: plan.name });
    const names = plans.map((plan) => `"${plan.name}"`).join(', ');
    this.logger.log(`Migrations disabled (${settings.source} is off) for ${names}; whenDisabled: '${settings.mode}'`);
    // 'skip' does not fail the boot for a read that fails: it is said, and readiness asks again.
    const statuses = await (settings.mode === 'skip'
      ? operations.readStatuses().catch((error: unknown) => {
          this.logger.warn(`Could not read pending migrations at boot (${this.redactor.message(error)}); readiness asks again`);
          return undefined;
        })
      : operations.readStatuses());
    if (!statuses) return;
    // The history is judged in every mode (ensureUp judges it for 'verify'): a changed migration is
    // warned of, or refused with changedMigrations: 'fail', whether or not this process migrates.
    // 'skip' judges only that: unknown migrations are what a replica of the previous release meets
    // at every restart during a rolling deploy, and out-of-order ones are the migrating run's.
    if (settings.mode === 'verify') await operations.ensureUp();
    else {
      statuses.forEach((status, index) =>
        operations.runner(plans[index]!).checkHistory(settings.mode === 'skip' ? { ...status, unknown: [], outOfOrder: [] } : status),
      );
    }
    this.poller.record(statuses);
    this.warnPending(statuses);
    if (settings.mode === 'wait') this.poller.watch(statuses);
  }

  /** Counts again unless the last count is recent enough (see PendingPoller.fresh). */
  fresh(): Promise<void> {
    return this.poller.fresh();
  }

  stop(): void {
    this.poller.stop();
  }

  /** What is pending and not run by this process, and how to run it. */
  private warnPending(statuses: readonly DataSourceStatus[]): void {
    for (const { dataSource, pending } of statuses) {
      if (pending.length === 0) continue;
      this.logger.warn(
        `${dataSourceLabel(dataSource)}: ${plural(pending.length, 'pending migration')} not run by this process: ` +
          `${listNames(pending.map((migration) => migration.name))}. Readiness stays down until they are applied: ` +
          `run them from a release Job (npx auto-migrator up --app <your compiled app module>) or with ${this.settings.source} on in one process.`,
      );
    }
  }
}
