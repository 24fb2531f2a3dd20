import {
  Inject,
  Injectable,
  Logger,
  type Type,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ModuleRef, ModulesContainer } from '@nestjs/core';
import { Subject, type Observable } from 'rxjs';
import { AUTO_MIGRATOR_LOGGER_CONTEXT, AUTO_MIGRATOR_RESOLVED_OPTIONS } from './auto-migrator.constants.js';
import { AutoMigratorConfigError } from './errors/auto-migrator-config.error.js';
import type { MigrationEvent } from './events/migration-events.js';
import type { DryRunResult } from './operations/dry-run-migrations.js';
import {
  MigrationOperations,
  type DataSourceStatus,
  type OperationTarget,
  type PlanOptions,
  type UpResult,
} from './operations/migration-operations.js';
import type { ResolvedAs, ResolveResult } from './operations/resolve-migration.js';
import { describeStarted, type StartedMigration } from './history/started-migrations.js';
import type { RevertResult } from './operations/revert-migrations.js';
import type { ResolvedAutoMigratorOptions, TenantLister } from './options/auto-migrator-options.interface.js';
import { listTenants } from './tenants/tenant-migrations.js';
import type { TenantSource } from './tenants/tenant-source.js';
import { planDataSources, type DataSourcePlan } from './plan/migration-plan.js';
import { NestDataSourceRegistry } from './plan/nest-data-source.registry.js';
import type { RunnerEnvironment } from './runner/data-source-migration.runner.js';
import { RunControl } from './runner/run-control.js';
import { MigrationStateStore, type DataSourceMigrationState } from './state/migration-state.js';
import { FailFastStrategy } from './strategies/fail-fast.strategy.js';
import { isMigrationStrategy, MigrationStrategy } from './strategies/migration-strategy.js';
import { libraryLogger } from './util/library-logger.js';
import { redactDataSourceLogger } from './util/redacting-logger.js';
import { SecretRedactor } from './util/secret-redactor.js';

/** Readiness of every configured DataSource, as reported by {@link MigrationsHealthIndicator}. */
export interface MigrationReadiness {
  readonly ready: boolean;
  readonly dataSources: Readonly<Record<string, MigrationReadinessDetail>>;
}

/** What readiness shows of one DataSource (no secrets, JSON-friendly). */
export interface MigrationReadinessDetail {
  readonly state: DataSourceMigrationState['status'];
  readonly pending?: number;
  readonly applied?: number;
  readonly running?: string;
  readonly index?: number;
  readonly total?: number;
  readonly failedMigration?: string;
  /** The failed migration ran without a transaction and may be partially applied. */
  readonly mayBePartiallyApplied?: boolean;
  /** A migration started and never finished: which, whether applied or reverted, when (ISO) and by whom (host and pid). */
  readonly dirty?: { readonly migration: string; readonly operation: 'up' | 'down'; readonly startedAt: string; readonly startedBy: string };
  readonly error?: string;
  /** ISO time since when this process waits for the migration lock. */
  readonly waitingSince?: string;
  /** Who holds the migration lock, as the database tells. */
  readonly lockHolder?: string;
  /** For a DataSource with tenants: how many there are, done, failed, and the first failed ones' names. */
  readonly tenants?: TenantReadiness;
  /** While retrying: the attempt that failed, of how many, and when the next one starts (ISO). */
  readonly attempt?: number;
  readonly attempts?: number;
  readonly nextAttemptAt?: string;
}

/** The tenants of one DataSource, summarised for readiness. */
export interface TenantReadiness {
  readonly total: number;
  readonly done: number;
  readonly failed: number;
  /** Pending, waiting for their lock, retrying or running. */
  readonly inProgress: number;
  /** Up to 10 failed tenants' names. */
  readonly failedTenants?: readonly string[];
}

/** What a DataSource has pending while migrations are disabled, and the first dirty one. */
interface PendingCount {
  readonly pending: number;
  readonly dirty: StartedMigration | undefined;
}

/** Set by the auto-migrator CLI: bootstrap only validates, the CLI runs the operation it was asked for. */
export const AUTO_MIGRATOR_CLI_ENV = 'AUTO_MIGRATOR_CLI';

/** How long, after cancelling the statement in flight, shutdown still waits for the run to end. */
const AFTER_CANCEL_WAIT_MS = 10_000;

/**
 * Runs each configured DataSource's pending migrations at application bootstrap when
 * migrations are enabled, through the configured strategy, and keeps their state. Also offers
 * the release-time operations (status, up, down, ensureUp, plan) and an event stream.
 */
@Injectable()
export class AutoMigratorService implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger: Logger;
  private readonly events = new Subject<MigrationEvent>();
  private readonly control = new RunControl();
  private secrets = new SecretRedactor();
  private operations?: MigrationOperations;
  private strategy?: Promise<MigrationStrategy>;
  private finished: Promise<void> = Promise.resolve();
  private running = false;
  private stopping?: Promise<void>;
  private pendingCheck?: { expiresAt: number; counts: Promise<Map<string, PendingCount>> };
  private waitTimer?: NodeJS.Timeout;
  private lastWaitMessage?: string;

  /** Every migration event: run started, lock waiting/acquired, migration started/finished/failed, retrying, DataSource done. */
  readonly events$: Observable<MigrationEvent> = this.events.asObservable();

  constructor(
    @Inject(AUTO_MIGRATOR_RESOLVED_OPTIONS) private readonly options: ResolvedAutoMigratorOptions,
    private readonly moduleRef: ModuleRef,
    private readonly modules: ModulesContainer,
    private readonly state: MigrationStateStore,
  ) {
    this.logger = libraryLogger(options.logger, AUTO_MIGRATOR_LOGGER_CONTEXT);
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
        this.logger.warn(`Could not close DataSource "${plan.name}" after the failed bootstrap: ${this.secrets.message(error)}`);
      }
    }
    if (closed.length > 0) {
      this.logger.warn(`Bootstrap failed: closed DataSource ${closed.join(', ')} so that the process can exit`);
    }
  }

  private async bootstrap(): Promise<void> {
    const plans = planDataSources(this.options, new NestDataSourceRegistry(this.moduleRef, this.modules));
    this.secrets = SecretRedactor.forDataSources(plans.map((plan) => plan.dataSource));
    // TypeORM's own logger (queries, failed queries, migration lines) too, for every statement the module makes.
    for (const plan of plans) redactDataSourceLogger(plan.dataSource, this.secrets);
    const env: RunnerEnvironment = {
      state: this.state,
      logger: this.logger,
      redactor: this.secrets,
      control: this.control,
      emit: (event) => this.events.next(event),
    };
    this.operations = new MigrationOperations(plans, env, async (plan) => listTenants(plan, await this.tenantLister(plan)));
    const names = plans.map((plan) => `"${plan.name}"`).join(', ');
    for (const plan of plans) {
      if (plan.dataSource.options.migrationsRun) {
        this.logger.warn(
          `DataSource "${plan.name}" has migrationsRun: true, so TypeORM already ran its migrations before this module, with no strategy; remove it`,
        );
      }
    }
    if (process.env[AUTO_MIGRATOR_CLI_ENV] === '1') {
      for (const plan of plans) this.state.set({ dataSource: plan.name, status: 'disabled', pending: 0, applied: [] });
      return;
    }
    if (!this.options.runMigrations) {
      await this.whenDisabled(plans, names);
      return;
    }

    const strategy = await this.resolveStrategy();
    for (const plan of plans) {
      this.state.set({ dataSource: plan.name, status: 'pending', pending: 0, applied: [] });
    }
    this.logger.log(
      `Migrations enabled (${this.options.runMigrationsSource}): migrating ${names} with ${strategy.constructor.name} in ${this.options.mode} mode`,
    );
    const run = this.track(this.migrateAll(plans, strategy));
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
   * Shutdown while migrating: stop before the next migration, wait up to `shutdownGraceMs` for the
   * one in flight, then cancel its statement (the database rolls it back), and release the lock,
   * all before TypeORM closes the DataSource.
   */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    await this.stop(signal ?? 'application shutdown');
  }

  onApplicationShutdown(): void {
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    this.events.complete();
  }

  /** Removes the configured DataSources' passwords (and any URL credentials) from text. */
  get redactor(): SecretRedactor {
    return this.secrets;
  }

  /** Resolves when the migrations started at bootstrap have finished, whatever the outcome. */
  whenFinished(): Promise<void> {
    return this.finished;
  }

  /** A snapshot of every configured DataSource's migration state, in configuration order. */
  getState(): DataSourceMigrationState[] {
    return this.state.all();
  }

  /** Applied, pending and unknown migrations of every configured DataSource (or one). Read-only. */
  status(target?: OperationTarget): Promise<DataSourceStatus[]> {
    return this.ops().status(target);
  }

  /** Runs pending migrations under the lock, through the strategy. */
  async up(target?: OperationTarget): Promise<UpResult[]> {
    const strategy = await this.resolveStrategy();
    return this.track(this.ops().up(strategy, target));
  }

  /**
   * Reverts, newest first and each in its own transaction under the lock, every applied migration
   * newer than `to` (its name or 13-digit timestamp, or 0 for all). One DataSource: name it when
   * several are configured.
   */
  down(options: OperationTarget & { to: string | number }): Promise<RevertResult> {
    return this.track(this.ops().down(options.to, options));
  }

  /** Reverts, in every tenant, the tenant migrations newer than `to` (name, 13-digit timestamp, or 0 for all). */
  downTenants(options: OperationTarget & { to: string | number }): Promise<RevertResult[]> {
    return this.track(this.ops().downTenants(options.to, options));
  }

  /**
   * After a {@link MigrationDirtyError} and a repair of the schema by hand: marks the migration that
   * was started and never finished as `applied` (recorded in the migrations table) or `not-applied`
   * (it runs again on the next up), and removes its marker. One DataSource: name it when several
   * are configured. Refuses while a migration run holds the lock.
   */
  resolve(options: OperationTarget & { migration: string; as: ResolvedAs }): Promise<ResolveResult> {
    return this.ops().resolve(options.migration, options.as, options);
  }

  /**
   * Throws {@link PendingMigrationsError} listing the pending migrations per DataSource (and tenant),
   * if any; else resolves with their status.
   */
  async ensureUp(target?: OperationTarget): Promise<DataSourceStatus[]> {
    return this.ops().ensureUp(target);
  }

  /**
   * Dry run (PostgreSQL, SQLite): the SQL each pending migration runs, in a transaction rolled back,
   * within `timeoutMs` (default 300000) and waiting at most `lockTimeoutMs` (default 10000) for a lock.
   */
  plan(options?: PlanOptions): Promise<DryRunResult[]> {
    return this.ops().plan(options);
  }

  /**
   * Ready when every DataSource is done. While migrations are disabled: ready when the database
   * has no pending migrations (asked at most once per `pendingCheckTtlMs`).
   */
  async getReadiness(): Promise<MigrationReadiness> {
    const plans = this.operations?.plans ?? [];
    const readiness =
      !this.options.runMigrations && plans.length > 0 && this.options.whenDisabled !== 'wait'
        ? await this.disabledReadiness(plans)
        : this.stateReadiness();
    if (this.options.readinessDetails === 'full') return readiness;
    return {
      ready: readiness.ready,
      dataSources: Object.fromEntries(
        Object.entries(readiness.dataSources).map(([name, detail]) => [name, countsOnly(detail)]),
      ),
    };
  }

  private stateReadiness(): MigrationReadiness {
    const states = this.state.all();
    const own = states.filter((state) => !state.tenant);
    const tenantsOf = new Map<string, DataSourceMigrationState[]>();
    for (const state of states) {
      if (state.tenant) tenantsOf.set(state.tenant.parent, [...(tenantsOf.get(state.tenant.parent) ?? []), state]);
    }
    const plans = new Map((this.operations?.plans ?? []).map((plan) => [plan.name, plan]));
    let ready = own.length > 0 && own.every((state) => state.status === 'done');
    const dataSources: Record<string, MigrationReadinessDetail> = {};
    for (const state of own) {
      const tenants = tenantsOf.get(state.dataSource);
      if (!tenants) {
        dataSources[state.dataSource] = describe(state);
        continue;
      }
      const summary = summarizeTenants(tenants);
      if (plans.get(state.dataSource)?.tenants?.affectReadiness !== false && summary.done < summary.total) ready = false;
      dataSources[state.dataSource] = { ...describe(state), tenants: summary };
    }
    return { ready, dataSources };
  }

  private ops(): MigrationOperations {
    if (!this.operations) {
      throw new AutoMigratorConfigError('AutoMigratorService is not bootstrapped yet: call it after app.init() (or app.listen()).');
    }
    return this.operations;
  }

  private async migrateAll(plans: readonly DataSourcePlan[], strategy: MigrationStrategy): Promise<void> {
    // Every tenant name is listed and validated before anything runs.
    const tenantLists = await this.ops().tenantsOf(plans);
    await this.ops().migrate(plans, strategy, tenantLists);
  }

  /** `tenants.list` as a function: the given one, or the listTenants of the TenantSource class (dependencies injected). */
  private async tenantLister(plan: DataSourcePlan): Promise<TenantLister> {
    const list = plan.tenants?.list;
    if (!list) throw new AutoMigratorConfigError(`DataSource "${plan.name}" has no tenants option`);
    const prototype: unknown = list.prototype;
    if (!(typeof prototype === 'object' && prototype !== null && typeof (prototype as TenantSource).listTenants === 'function')) {
      return list as TenantLister;
    }
    const source = await this.instantiate(list as Type<TenantSource>, `dataSources "${plan.name}" tenants.list`);
    return (dataSource) => source.listTenants(dataSource);
  }

  /**
   * Marks `work` as the run in progress (what shutdown waits for), and, while it runs, stops it on
   * SIGTERM/SIGINT where the application handles those signals (enableShutdownHooks).
   */
  private track<T>(work: Promise<T>): Promise<T> {
    this.running = true;
    const signals = (['SIGTERM', 'SIGINT'] as const).filter((signal) => process.listenerCount(signal) > 0);
    const onSignal = (signal: NodeJS.Signals) => void this.stop(signal);
    for (const signal of signals) process.on(signal, onSignal);
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.finished = settled.then(() => {
      this.running = false;
      for (const signal of signals) process.off(signal, onSignal);
    });
    return work;
  }

  private stop(reason: string): Promise<void> {
    if (!this.running) return Promise.resolve();
    this.stopping ??= this.stopRun(reason);
    return this.stopping;
  }

  private async stopRun(reason: string): Promise<void> {
    this.control.stop(reason);
    const grace = this.options.shutdownGraceMs;
    this.logger.warn(`${reason}: stopping migrations; waiting up to ${grace} ms (shutdownGraceMs) for the one in flight`);
    if (await settlesWithin(this.finished, grace)) return;
    this.logger.warn(`${reason}: grace period over; cancelling the statement in flight, which the database rolls back`);
    // The cancel goes over another connection, which a network partition leaves unanswered: bounded too.
    const cancel = this.control.cancelInFlight().catch((error: unknown) => {
      this.logger.error(`Cancelling the statement in flight failed: ${this.secrets.message(error)}`);
      return false;
    });
    const cancelled = (await settlesWithin(cancel, AFTER_CANCEL_WAIT_MS)) && (await cancel);
    if (!cancelled || !(await settlesWithin(this.finished, AFTER_CANCEL_WAIT_MS))) {
      this.logger.error(
        `${reason}: the migration in flight did not stop; its connection closes with the DataSource and the database rolls back what did not commit`,
      );
    }
  }

  private async whenDisabled(plans: readonly DataSourcePlan[], names: string): Promise<void> {
    const mode = this.options.whenDisabled;
    for (const plan of plans) this.state.set({ dataSource: plan.name, status: 'disabled', pending: 0, applied: [] });
    this.logger.log(`Migrations disabled (${this.options.runMigrationsSource} is off) for ${names}; whenDisabled: '${mode}'`);
    if (mode === 'skip') return;
    const statuses = await this.ops().status();
    statuses.forEach((status, index) => this.ops().runner(plans[index]!).checkHistory(status));
    if (mode === 'verify') {
      await this.ops().ensureUp();
      for (const plan of plans) this.state.set({ dataSource: plan.name, status: 'done', pending: 0, applied: [] });
      return;
    }
    this.recordWaiting(statuses.map((status) => [status.dataSource, { pending: status.pending.length, dirty: status.dirty[0] }]));
  }

  /** whenDisabled 'wait': record pending counts, and poll until another process has applied them all. */
  private recordWaiting(counts: Array<[string, PendingCount]>): void {
    for (const [dataSource, { pending, dirty }] of counts) {
      this.state.update(dataSource, { status: pending === 0 ? 'done' : 'disabled', pending, dirty });
    }
    const waiting = counts.filter(([, { pending }]) => pending > 0);
    if (waiting.length === 0) {
      this.logger.log('No pending migrations: ready');
      return;
    }
    const message =
      `Waiting for another process to apply ${waiting
        .map(([name, { pending, dirty }]) => `${pending} pending migration(s) of "${name}"${dirty ? ` (dirty: ${describeStarted(dirty)}; see "resolve")` : ''}`)
        .join(', ')}; readiness stays down until then`;
    // Once, and again when the counts change; every poll in between at debug level.
    if (message === this.lastWaitMessage) this.logger.debug(message);
    else this.logger.log(message);
    this.lastWaitMessage = message;
    this.waitTimer = setTimeout(() => {
      this.countPending(this.ops().plans)
        .then((next) => this.recordWaiting([...next]))
        .catch((error: unknown) => {
          this.logger.warn(`Could not read pending migrations (${this.secrets.message(error)}); trying again`);
          this.recordWaiting(counts);
        });
    }, this.options.pendingCheckTtlMs);
    this.waitTimer.unref();
  }

  private resolveStrategy(): Promise<MigrationStrategy> {
    this.strategy ??= this.instantiateStrategy();
    return this.strategy;
  }

  private async instantiateStrategy(): Promise<MigrationStrategy> {
    const configured = this.options.strategy;
    let strategy: unknown;
    if (typeof configured === 'function') {
      strategy = await this.instantiate(configured, 'strategy');
    } else if (configured !== undefined) {
      strategy = configured;
    } else {
      try {
        strategy = this.moduleRef.get(MigrationStrategy, { strict: false });
      } catch {
        strategy = new FailFastStrategy();
      }
    }
    if (!isMigrationStrategy(strategy)) {
      throw new AutoMigratorConfigError(
        `The MigrationStrategy provider is not a MigrationStrategy (no migrate(context) method); make it a class extending MigrationStrategy.`,
      );
    }
    return strategy as MigrationStrategy;
  }

  /** A class given in the options, as the provider the application registered, or built with its dependencies injected. */
  private async instantiate<T>(type: Type<T>, option: string): Promise<T> {
    try {
      return this.moduleRef.get(type, { strict: false });
    } catch {
      try {
        return await this.moduleRef.create(type);
      } catch (error) {
        throw new AutoMigratorConfigError(
          `AutoMigratorModule option "${option}": ${type.name} could not be instantiated (${this.secrets.message(error).split('\n')[0]}). ` +
            `Make it @Injectable() and make what it injects visible to the module: list the providers in ` +
            `forRootAsync({ extraProviders: [...] }) or their modules in "imports", or register ${type.name} itself as a provider.`,
          { cause: error },
        );
      }
    }
  }

  private async disabledReadiness(plans: readonly DataSourcePlan[]): Promise<MigrationReadiness> {
    const now = Date.now();
    if (!this.pendingCheck || this.pendingCheck.expiresAt <= now) {
      this.pendingCheck = { expiresAt: now + this.options.pendingCheckTtlMs, counts: this.countPending(plans) };
    }
    try {
      const counts = await this.pendingCheck.counts;
      const dataSources: Record<string, MigrationReadinessDetail> = {};
      for (const [name, { pending, dirty }] of counts) dataSources[name] = { state: 'disabled', pending, applied: 0, ...dirtyDetail(dirty) };
      return { ready: [...counts.values()].every(({ pending }) => pending === 0), dataSources };
    } catch (error) {
      this.pendingCheck = undefined;
      const message = `could not read pending migrations: ${this.secrets.message(error)}`;
      return {
        ready: false,
        dataSources: Object.fromEntries(plans.map((plan) => [plan.name, { state: 'disabled', error: message }])),
      };
    }
  }

  private async countPending(plans: readonly DataSourcePlan[]): Promise<Map<string, PendingCount>> {
    const counts = new Map<string, PendingCount>();
    for (const plan of plans) {
      const status = await this.ops().runner(plan).readStatus();
      counts.set(plan.name, { pending: status.pending.length, dirty: status.dirty[0] });
    }
    return counts;
  }
}

function describe(state: DataSourceMigrationState): MigrationReadinessDetail {
  return {
    state: state.status,
    pending: state.pending,
    applied: state.applied.length,
    ...(state.current ? { running: state.current.name, index: state.current.index, total: state.current.total } : {}),
    ...(state.waitingSince ? { waitingSince: state.waitingSince.toISOString() } : {}),
    ...(state.lockHolder !== undefined ? { lockHolder: state.lockHolder } : {}),
    ...(state.retry
      ? { attempt: state.retry.attempt, attempts: state.retry.attempts, nextAttemptAt: state.retry.nextAttemptAt.toISOString() }
      : {}),
    ...(state.failedMigration !== undefined ? { failedMigration: state.failedMigration } : {}),
    ...(state.mayBePartiallyApplied ? { mayBePartiallyApplied: true } : {}),
    ...dirtyDetail(state.dirty),
    ...(state.error !== undefined ? { error: state.error } : {}),
  };
}

/** Readiness's `dirty`: which migration was started and never finished, when and by whom. */
function dirtyDetail(dirty: StartedMigration | undefined): Pick<MigrationReadinessDetail, 'dirty'> {
  if (!dirty) return {};
  return { dirty: { migration: dirty.name, operation: dirty.operation, startedAt: dirty.startedAt.toISOString(), startedBy: dirty.startedBy } };
}

/** `readinessDetails: 'counts'`: states and numbers only, no migration or tenant names, errors or hosts. */
function countsOnly(detail: MigrationReadinessDetail): MigrationReadinessDetail {
  const { state, pending, applied, index, total, attempt, attempts } = detail;
  const tenants = detail.tenants
    ? { total: detail.tenants.total, done: detail.tenants.done, failed: detail.tenants.failed, inProgress: detail.tenants.inProgress }
    : undefined;
  return Object.fromEntries(
    Object.entries({ state, pending, applied, index, total, attempt, attempts, tenants }).filter(([, value]) => value !== undefined),
  ) as unknown as MigrationReadinessDetail;
}

const MAX_FAILED_TENANT_NAMES = 10;

function summarizeTenants(states: readonly DataSourceMigrationState[]): TenantReadiness {
  const failed = states.filter((state) => state.status === 'failed');
  const done = states.filter((state) => state.status === 'done').length;
  return {
    total: states.length,
    done,
    failed: failed.length,
    inProgress: states.length - done - failed.length,
    ...(failed.length > 0 ? { failedTenants: failed.slice(0, MAX_FAILED_TENANT_NAMES).map((state) => state.tenant!.name) } : {}),
  };
}

/** True when `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
