import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { PendingMigrationsError } from '../errors/pending-migrations.error.js';
import type { DataSourcePlan } from '../plan/migration-plan.js';
import { DataSourceMigrationRunner, type RunnerEnvironment } from '../runner/data-source-migration.runner.js';
import type { MigrationStateStore, MigrationStatus } from '../state/migration-state.js';
import type { MigrationStrategy } from '../strategies/migration-strategy.js';
import { dryRunMigrations, type DryRunResult } from './dry-run-migrations.js';
import { readMigrationStatus, type MigrationStatusReport } from './migration-status.js';
import { revertMigrations, type RevertResult } from './revert-migrations.js';

/** {@link MigrationStatusReport} of one DataSource. */
export interface DataSourceStatus extends MigrationStatusReport {
  readonly dataSource: string;
}

/** What `up` did to one DataSource. */
export interface UpResult {
  readonly dataSource: string;
  readonly status: MigrationStatus;
  /** Migrations applied by this call. */
  readonly applied: readonly string[];
  readonly error?: string;
}

/** Which DataSources an operation works on: all configured ones (default), or one by name. */
export interface OperationTarget {
  readonly dataSource?: string;
}

/**
 * The release-time operations (status, up, down, ensure-up, plan) over planned DataSources. Used
 * by AutoMigratorService inside an application and by the CLI on a bare DataSource.
 */
export class MigrationOperations {
  constructor(
    readonly plans: readonly DataSourcePlan[],
    private readonly env: RunnerEnvironment,
  ) {}

  private get state(): MigrationStateStore {
    return this.env.state;
  }

  runner(plan: DataSourcePlan): DataSourceMigrationRunner {
    return new DataSourceMigrationRunner(plan, this.env);
  }

  /** Applied, pending and unknown migrations per DataSource. Read-only. */
  async status(target: OperationTarget = {}): Promise<DataSourceStatus[]> {
    const result: DataSourceStatus[] = [];
    for (const plan of this.select(target)) {
      if (!plan.dataSource.isInitialized) await plan.dataSource.initialize();
      result.push({ dataSource: plan.name, ...(await readMigrationStatus(plan.dataSource)) });
    }
    return result;
  }

  /** Runs pending migrations under the lock, through the strategy, DataSource by DataSource. */
  async up(strategy: MigrationStrategy, target: OperationTarget = {}): Promise<UpResult[]> {
    const results: UpResult[] = [];
    for (const plan of this.select(target)) {
      await this.runner(plan).migrate(strategy);
      const state = this.state.get(plan.name);
      results.push({
        dataSource: plan.name,
        status: state?.status ?? 'done',
        applied: state?.applied ?? [],
        ...(state?.error !== undefined ? { error: state.error } : {}),
      });
    }
    return results;
  }

  /** Reverts every applied migration newer than `to` (name, timestamp, or 0 for all) of one DataSource. */
  async down(to: string | number, target: OperationTarget = {}): Promise<RevertResult> {
    const plans = this.select(target);
    if (plans.length !== 1) {
      throw new AutoMigratorConfigError(
        `down needs one DataSource; ${plans.length} are configured (${plans.map((plan) => `"${plan.name}"`).join(', ')}): name one.`,
      );
    }
    const result = await revertMigrations(this.runner(plans[0]!), to);
    const pending = (await readMigrationStatus(plans[0]!.dataSource)).pending.length;
    this.state.update(plans[0]!.name, { status: pending > 0 ? 'pending' : 'done', pending, current: undefined });
    return result;
  }

  /** Throws {@link PendingMigrationsError} listing what is pending per DataSource, if anything is. */
  async ensureUp(target: OperationTarget = {}): Promise<DataSourceStatus[]> {
    const statuses = await this.status(target);
    const pending = Object.fromEntries(
      statuses
        .filter((status) => status.pending.length > 0)
        .map((status) => [status.dataSource, status.pending.map((migration) => migration.name)]),
    );
    if (Object.keys(pending).length > 0) throw new PendingMigrationsError(pending);
    return statuses;
  }

  /** Dry run: the SQL each pending migration executes, inside a transaction that is rolled back. */
  async plan(target: OperationTarget = {}): Promise<DryRunResult[]> {
    const results: DryRunResult[] = [];
    for (const plan of this.select(target)) results.push(await dryRunMigrations(this.runner(plan)));
    return results;
  }

  private select(target: OperationTarget): readonly DataSourcePlan[] {
    if (target.dataSource === undefined) return this.plans;
    const plan = this.plans.find((candidate) => candidate.name === target.dataSource);
    if (!plan) {
      throw new AutoMigratorConfigError(
        `DataSource "${target.dataSource}" is not one AutoMigratorModule migrates; configured: ${this.plans.map((p) => `"${p.name}"`).join(', ')}.`,
      );
    }
    return [plan];
  }
}
