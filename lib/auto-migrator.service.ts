import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ModuleRef, ModulesContainer } from '@nestjs/core';
import { Subject, type Observable } from 'rxjs';
import {
  AUTO_MIGRATOR_BOOTSTRAP,
  AUTO_MIGRATOR_LOGGER_CONTEXT,
  AUTO_MIGRATOR_RESOLVED_OPTIONS,
  type AutoMigratorBootstrap,
} from './auto-migrator.constants.js';
import { AutoMigratorConfigError } from './errors/auto-migrator-config.error.js';
import type { MigrationEvent } from './events/migration-events.js';
import { buildReadiness, type MigrationReadiness } from './health/readiness.js';
import type { DryRunResult, DeployCheckResult, BuildSnapshot } from './check/index.js';
import {
  MigrationOperations,
  type DataSourceStatus,
  type DownOptions,
  type MigrationOperationsApi,
  type EnsureUpOptions,
  type OperationTarget,
  type ResolveOptions,
  type PlanOptions,
  type CheckOptions,
  type SnapshotOptions,
  type StatusOptions,
  type UpResult,
} from './operations/migration-operations.js';
import { DisabledMigrations } from './operations/disabled-migrations.js';
import type { ResolveResult } from './operations/resolve-migration.js';
import type { RevertResult } from './operations/revert-migrations.js';
import type { ResolvedAutoMigratorOptions } from './options/auto-migrator-options.interface.js';
import { planDataSources } from './plan/migration-plan.js';
import { NestDataSourceRegistry } from './plan/nest-data-source.registry.js';
import { RunControl } from './runner/run-control.js';
import { MigrationStateStore, type DataSourceMigrationState } from './state/migration-state.js';
import { listTenants } from './tenants/tenant-migrations.js';
import { libraryLogger } from './util/library-logger.js';
import { redactDataSourceLogger } from './typeorm/redacting-logger.js';
import { SecretRedactor } from './util/secret-redactor.js';
import { dataSourceLabel } from './util/data-source-label.js';
import { OptionInstances } from './option-instances.js';

/**
 * Runs each configured DataSource's pending migrations at application bootstrap when
 * migrations are enabled, through the configured strategy, and keeps their state. Also offers
 * the release-time operations (status, up, down, ensureUp, plan) and an event stream.
 */
@Injectable()
export class AutoMigratorService
  implements MigrationOperationsApi, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger: Logger;
  private readonly events = new Subject<MigrationEvent>();
  private readonly control = new RunControl();
  private secrets = new SecretRedactor();
  private operations?: MigrationOperations;
  private readonly instances: OptionInstances;
  private disabled?: DisabledMigrations;

  /** Every migration event, in order (see {@link MigrationEvent}): the state and readiness are folded from them. */
  readonly events$: Observable<MigrationEvent> = this.events.asObservable();

  constructor(
    @Inject(AUTO_MIGRATOR_RESOLVED_OPTIONS) private readonly options: ResolvedAutoMigratorOptions,
    private readonly moduleRef: ModuleRef,
    private readonly modules: ModulesContainer,
    private readonly state: MigrationStateStore,
    /** Set by the auto-migrator CLI: bootstrap only validates, the CLI runs the operation it was asked for. */
    @Optional() @Inject(AUTO_MIGRATOR_BOOTSTRAP) private readonly bootstrapMode: AutoMigratorBootstrap = 'run',
  ) {
    this.logger = libraryLogger(options.logger, AUTO_MIGRATOR_LOGGER_CONTEXT);
    this.instances = new OptionInstances(options, moduleRef, () => this.secrets);
  }

  /**
   * Migrates (or checks, while disabled). When this rejects (not on shutdown), the DataSources it
   * was to migrate are destroyed first: see {@link closeAfterFailedBootstrap}.
   */
  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.bootstrap();
    } catch (error) {
      await this.closeAfterFailedBootstrap();
      throw error;
    }
  }

  private async bootstrap(): Promise<void> {
    const plans = planDataSources(this.options, new NestDataSourceRegistry(this.moduleRef, this.modules));
    this.secrets = SecretRedactor.forDataSources(plans.map((plan) => plan.dataSource));
    // TypeORM's own logger (queries, failed queries, migration lines) too, for every statement the module makes.
    for (const plan of plans) redactDataSourceLogger(plan.dataSource, this.secrets);
    const operations = MigrationOperations.create({
      plans,
      state: this.state,
      logger: this.logger,
      redactor: this.secrets,
      control: this.control,
      onEvent: (event) => this.events.next(event),
      tenantListing: async (plan) => listTenants(plan, await this.instances.tenantLister(plan)),
      progressEveryMs: this.options.progressEveryMs,
      strategy: () => this.instances.migrationStrategy(),
      track: (work) => this.track(work),
      checks: { deployCheck: this.options.deployCheck, runningBuilds: this.options.runningBuilds },
    });
    this.operations = operations;
    for (const plan of plans) {
      if (plan.dataSource.options.migrationsRun) {
        this.logger.warn(
          `${dataSourceLabel(plan.name)} has migrationsRun: true, so TypeORM already ran its migrations before this module, with no strategy; remove it`,
        );
      }
    }
    if (this.bootstrapMode === 'validate-only') {
      for (const plan of plans) this.report({ type: 'disabled', dataSource: plan.name });
      return;
    }
    await operations.recordRunningBuilds();
    if (!this.options.runMigrations) {
      const { whenDisabled: mode, runMigrationsSource: source, pendingCheckTtlMs } = this.options;
      this.disabled = new DisabledMigrations(operations, { mode, source, pendingCheckTtlMs }, this.logger, this.secrets);
      return this.disabled.start();
    }

    const strategy = await this.instances.migrationStrategy();
    const names = plans.map((plan) => `"${plan.name}"`).join(', ');
    for (const plan of plans) this.report({ type: 'run-queued', dataSource: plan.name });
    this.logger.log(
      `Migrations enabled (${this.options.runMigrationsSource}): migrating ${names} with ${strategy.constructor.name} in ${this.options.mode} mode`,
    );
    const run = this.track(
      (async () => {
        // Every tenant name is listed and validated before anything runs.
        const tenantLists = await operations.tenantsOf(plans);
        await operations.migrate(plans, strategy, tenantLists);
      })(),
    );
    if (this.options.mode === 'background') {
      run.catch((error: unknown) => {
        // Nothing rethrows it in background mode: its stack is printed here, once.
        this.logger.error(
          `Background migrations stopped: ${this.secrets.message(error)}. The application keeps serving; readiness stays down.`,
          error instanceof Error ? this.secrets.redact(error.stack ?? '') : undefined,
        );
      });
      return;
    }
    await run;
  }

  /**
   * A failed bootstrap leaves the caller of `NestFactory.createApplicationContext()` no app to
   * `close()`, and a `main` that only sets `process.exitCode` would keep running on the open
   * connection pools (MySQL/MariaDB: forever; pg: until its idle timeout), so @nestjs/typeorm's
   * shutdown hook that closes them never runs. This destroys the DataSources this module was to
   * migrate (the parent DataSource of tenants), so the process can end. Not on shutdown (a signal
   * stopped the run): Nest's shutdown closes them then.
   */
  private async closeAfterFailedBootstrap(): Promise<void> {
    if (this.control.stopped) return;
    const closed: string[] = [];
    for (const plan of this.operations?.plans ?? []) {
      if (!plan.dataSource.isInitialized) continue;
      try {
        await plan.dataSource.destroy();
        closed.push(`"${plan.name}"`);
      } catch (error) {
        this.logger.warn(`Could not close ${dataSourceLabel(plan.name)} after the failed bootstrap: ${this.secrets.message(error)}`);
      }
    }
    if (closed.length > 0) {
      this.logger.warn(`Bootstrap failed: closed DataSource ${closed.join(', ')} so that the process can exit`);
    }
  }

  /**
   * Shutdown while migrating: stop before the next migration, wait up to `shutdownGraceMs` for the
   * one in flight, then cancel its statement (the database rolls it back), and release the lock,
   * all before TypeORM closes the DataSource.
   */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    await this.shutdown(signal ?? 'application shutdown');
  }

  onApplicationShutdown(): void {
    this.disabled?.stop();
    this.events.complete();
  }

  /** Removes the configured DataSources' passwords (and any URL credentials) from text. */
  get redactor(): SecretRedactor {
    return this.secrets;
  }

  /** Resolves when the migrations started at bootstrap have finished, whatever the outcome. */
  whenFinished(): Promise<void> {
    return this.control.whenFinished();
  }

  /** A snapshot of every configured DataSource's (and tenant's) migration state. */
  getState(): DataSourceMigrationState[] {
    return this.state.all();
  }

  /**
   * Ready when every DataSource is done. While migrations are disabled: ready when the database
   * has no pending migrations (asked at most once per `pendingCheckTtlMs`).
   */
  async getReadiness(): Promise<MigrationReadiness> {
    await this.disabled?.fresh();
    const plans = new Map((this.operations?.plans ?? []).map((plan) => [plan.name, plan]));
    return buildReadiness(this.state, this.options.readinessDetails, (name) => plans.get(name)?.tenants?.affectReadiness !== false);
  }

  // The release-time operations: written once, in MigrationOperations; documented on MigrationOperationsApi.

  status(options?: StatusOptions): Promise<DataSourceStatus[]> {
    return this.ops().status(options);
  }

  up(target?: OperationTarget): Promise<UpResult[]> {
    return this.ops().up(target);
  }

  down(options: DownOptions): Promise<RevertResult> {
    return this.ops().down(options);
  }

  downTenants(options: DownOptions): Promise<RevertResult[]> {
    return this.ops().downTenants(options);
  }

  resolve(options: ResolveOptions): Promise<ResolveResult> {
    return this.ops().resolve(options);
  }

  ensureUp(options?: EnsureUpOptions): Promise<DataSourceStatus[]> {
    return this.ops().ensureUp(options);
  }

  plan(options?: PlanOptions): Promise<DryRunResult[]> {
    return this.ops().plan(options);
  }

  check(options?: CheckOptions): Promise<DeployCheckResult[]> {
    return this.ops().check(options);
  }

  snapshot(options?: SnapshotOptions): Promise<BuildSnapshot> {
    return this.ops().snapshot(options);
  }

  private ops(): MigrationOperations {
    if (!this.operations) {
      throw new AutoMigratorConfigError('AutoMigratorService is not bootstrapped yet: call it after app.init() (or app.listen()).');
    }
    return this.operations;
  }

  /** What the service itself reports (a DataSource disabled, queued, counted), through the operations' one path. */
  private report(event: MigrationEvent): void {
    this.ops().report(event);
  }

  /** Marks `work` as the run shutdown waits for and stops (see RunControl). */
  private track<T>(work: Promise<T>): Promise<T> {
    return this.control.track(work, (reason) => this.shutdown(reason));
  }

  private shutdown(reason: string): Promise<void> {
    return this.control.shutdown(reason, this.options.shutdownGraceMs, this.logger, (error) => this.secrets.message(error));
  }
}
