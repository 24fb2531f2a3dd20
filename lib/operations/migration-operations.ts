import type { Logger } from '@nestjs/common';
import {
  buildSnapshot,
  snapshotDataSource,
  analyzeDryRun,
  largestSchema,
  checkBeforeMigrating,
  checkDeploy,
  recordRunningBuild,
  dryRunInShadow,
  replayInShadow,
  type HistoryReplay,
  type ReplayOption,
  dryRunMigrations,
  redactedDryRun,
  type BuildSnapshot,
  type DataSourceSnapshot,
  type DeployCheckOption,
  type DeployCheckResult,
  type ShadowOption,
  type DryRunResult,
  type PreviewLimits,
} from '../check/index.js';
import { DEFAULT_RUNNING_BUILDS_WINDOW_MS } from '../auto-migrator.constants.js';
import { tenantKey } from '../contracts/tenant-ref.js';
import type { MigrationEvent } from '../events/migration-events.js';
import { logProgress, type EventSource } from '../events/migration-log.js';
import { RunProgress } from './run-progress.js';
import type { RunControl } from '../runner/run-control.js';
import type { SecretRedactor } from '../util/secret-redactor.js';
import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { PendingMigrationsError } from '../errors/pending-migrations.error.js';
import { planTenant, type DataSourcePlan } from '../plan/migration-plan.js';
import { forEachTenant, migrateTenants } from '../tenants/tenant-migrations.js';
import { DataSourceMigrationRunner } from '../runner/data-source-migration.runner.js';
import type { RunnerEnvironment } from '../runner/runner-environment.js';
import type { MigrationStateStore, MigrationState } from '../state/migration-state.js';
import type { MigrationStrategy } from '../contracts/migration-strategy.js';
import type { EntityDrift } from '../history/entity-drift.js';
import type { InvalidIndex } from '../history/invalid-indexes.js';
import { isMysqlFamily } from '../history/migrations-table.js';
import type { MigrationStatusReport } from '../history/migration-status.js';
import { acceptChange, resolveStartedMigration, type ResolvedAs, type ResolveResult } from './resolve-migration.js';
import { revertMigrations, type RevertResult } from './revert-migrations.js';
import { dataSourceLabel } from '../util/data-source-label.js';

/** {@link MigrationStatusReport} of one DataSource, or of one of its tenants. */
export interface DataSourceStatus extends MigrationStatusReport {
  readonly dataSource: string;
  /** Set for a tenant's status. */
  readonly tenant?: string;
  /** PostgreSQL, the DataSource's own status: the database's INVALID indexes (see readInvalidIndexes), each with the statement that removes it. */
  readonly invalidIndexes?: readonly InvalidIndex[];
  /** With `schema`, the DataSource's own status: its entities against the live schema (what a generated migration would hold). */
  readonly entityDrift?: EntityDrift;
  /** With `replay`: the applied migrations replayed on an empty shadow, and the live schema compared with what they build. */
  readonly historyReplay?: HistoryReplay;
}

/** What `up` did to one DataSource. */
export interface UpResult {
  readonly dataSource: string;
  /** Set for a tenant's result. */
  readonly tenant?: string;
  readonly status: MigrationState;
  /** Migrations applied by this call. */
  readonly applied: readonly string[];
  readonly error?: string;
}

/** Which DataSources an operation works on: all configured ones (default), or one by name. */
export interface OperationTarget {
  readonly dataSource?: string;
  /** Include the tenants of DataSources configured with `tenants` (ensureUp always does). */
  readonly tenants?: boolean;
}

/** What `status` covers, and whether it compares each DataSource's entities with its live schema. */
export interface StatusOptions extends OperationTarget {
  /** The entities against the live schema, read-only (CLI: `status --schema`); not for tenants. */
  readonly schema?: boolean;
  /**
   * With `schema`, PostgreSQL: also the history against the live schema, the applied migrations
   * replayed in a shadow database (an empty one at `url`, or a temporary one on the live server
   * with `onLiveServer`; CLI: `status --schema --replay`).
   */
  readonly replay?: ReplayOption;
}

/** What `ensureUp` covers, and whether every way the migrations table does not fit the build refuses. */
export interface EnsureUpOptions extends OperationTarget {
  /** Refuse a changed, unknown or out-of-order migration whatever the history options say (CLI: `ensure-up --strict`). */
  readonly strict?: boolean;
}

/**
 * Which DataSources a dry run previews, its limits (defaults: {@link DRY_RUN_LIMITS}), and, on
 * PostgreSQL, the shadow database it runs in: never the live one.
 */
export interface PlanOptions extends Omit<OperationTarget, 'tenants'>, Partial<PreviewLimits> {
  /**
   * PostgreSQL: where the pending migrations run. `{ url }`: that database (best a clone or branch of
   * production, used as it is when its migrations table lists what the live one lists; an empty one
   * is filled with the live schema and emptied again; anything else is refused). Default: a
   * temporary database created on the live server (CREATEDB needed) and dropped at the end.
   */
  readonly shadow?: ShadowOption;
}

/**
 * Which DataSources `check` looks at, the limits of the dry run it reads the SQL from, and the
 * previous release's snapshot (see `snapshot`) to hold the pending migrations against.
 */
export interface CheckOptions extends PlanOptions {
  readonly snapshot?: BuildSnapshot;
  /**
   * Also hold them against the builds recorded as booted (the option runningBuilds): `true` within
   * the option's window (30 days by default), or `{ windowMs }`; `false`: not. Default: as the
   * option (on when it records builds).
   */
  readonly runningBuilds?: boolean | { readonly windowMs?: number };
}

/** Which DataSources `snapshot` covers, and the build it names (default: `unnamed`). */
export interface SnapshotOptions extends Omit<OperationTarget, 'tenants'> {
  readonly build?: string;
}

/** What `down` reverts: every applied migration newer than `to` (its name or 13-digit timestamp, or 0 for all). */
export interface DownOptions extends OperationTarget {
  readonly to: string | number;
}

/** Which migration `resolve` marks, and as what. */
export interface ResolveOptions extends OperationTarget {
  readonly migration: string;
  readonly as: ResolvedAs;
}

/**
 * The release-time operations, each with one object argument: written once in
 * {@link MigrationOperations}, exposed by AutoMigratorService and run by the CLI.
 */
export interface MigrationOperationsApi {
  /** Applied, pending and unknown migrations of every configured DataSource (or one). Read-only. */
  status(options?: StatusOptions): Promise<DataSourceStatus[]>;
  /** Runs pending migrations under the lock, through the strategy. */
  up(target?: OperationTarget): Promise<UpResult[]>;
  /**
   * Reverts, newest first and each in its own transaction under the lock, every applied migration
   * newer than `to` (its name or 13-digit timestamp, or 0 for all). One DataSource: name it when
   * several are configured.
   */
  down(options: DownOptions): Promise<RevertResult>;
  /** Reverts, in every tenant, the tenant migrations newer than `to` (name, 13-digit timestamp, or 0 for all). */
  downTenants(options: DownOptions): Promise<RevertResult[]>;
  /**
   * Throws {@link PendingMigrationsError} listing the pending migrations per DataSource (and tenant),
   * if any; else resolves with their status. The history is judged first, by the options' policies
   * (`outOfOrder`, `unknownMigrations`, `changedMigrations`; with `strict`, each as 'fail'):
   * {@link MigrationHistoryError} when one refuses, a warning each otherwise.
   */
  ensureUp(options?: EnsureUpOptions): Promise<DataSourceStatus[]>;
  /**
   * After a {@link MigrationDirtyError} and a repair of the schema by hand: marks the migration that
   * was started and never finished as `applied` (recorded in the migrations table) or `not-applied`
   * (it runs again on the next up), and removes its marker. One DataSource: name it when several
   * are configured. Refuses while a migration run holds the lock.
   */
  resolve(options: ResolveOptions): Promise<ResolveResult>;
  /**
   * Dry run (PostgreSQL, SQLite): the SQL each pending migration runs, in a transaction rolled back,
   * within `timeoutMs` (default 300000) and waiting at most `lockTimeoutMs` (default 10000) for a lock.
   */
  plan(options?: PlanOptions): Promise<DryRunResult[]>;
  /**
   * Before a rolling deploy (PostgreSQL): the pending migrations' real SQL, from a dry run, parsed
   * by PostgreSQL's parser and checked against the live tables' sizes for locks that would stall
   * the running release. Writes nothing; what it cannot check is listed as unchecked.
   */
  check(options?: CheckOptions): Promise<DeployCheckResult[]>;
  /** What this build's entities map, per DataSource: commit it at release; `check({ snapshot })` holds the next release's migrations against it. */
  snapshot(options?: SnapshotOptions): Promise<BuildSnapshot>;
}

/** How the operations check before migrating, and whether this build is recorded (the options deployCheck and runningBuilds). */
export interface ChecksOption {
  readonly deployCheck: Omit<DeployCheckOption, 'runningBuilds'>;
  readonly runningBuilds: false | { readonly label?: string; readonly windowMs: number };
}

/** Work a shutdown waits for and stops (the service's RunControl); the CLI's runs need none. */
export type RunTracker = <T>(work: Promise<T>) => Promise<T>;

/** Lists (and validates) the tenants of a plan configured with `tenants`. */
export type TenantListing = (plan: DataSourcePlan) => Promise<string[]>;

/**
 * The release-time operations (status, up, down, ensure-up, plan) over planned DataSources. Used
 * by AutoMigratorService inside an application and by the CLI on a bare DataSource.
 */
export class MigrationOperations implements MigrationOperationsApi {
  private constructor(
    readonly plans: readonly DataSourcePlan[],
    private readonly env: RunnerEnvironment,
    /** Folded from the events the runners report (see {@link create}): read for the results. */
    private readonly state: MigrationStateStore,
    private readonly tenantListing: TenantListing,
    /** Where, and how often, a run's progress lines go (see {@link RunProgress}). */
    private readonly progress: { readonly logger: Logger; readonly everyMs: number },
    private readonly strategy: () => Promise<MigrationStrategy>,
    private readonly track: RunTracker,
    private readonly checks: ChecksOption,
  ) {}

  /**
   * The operations over `plans`, as the module and the CLI use them: every event the runners
   * report is folded into `state` first, then passed to `onEvent` (the module's `events$`).
   */
  static create(settings: {
    readonly plans: readonly DataSourcePlan[];
    readonly state: MigrationStateStore;
    readonly logger: Logger;
    readonly redactor: SecretRedactor;
    readonly control: RunControl;
    readonly onEvent?: (event: MigrationEvent) => void;
    readonly tenantListing?: TenantListing;
    /** A line every this many ms while a run goes on (tenants done and left, a long migration); 0: none. */
    readonly progressEveryMs: number;
    /** The strategy `up` runs the migrations through. */
    readonly strategy: () => Promise<MigrationStrategy>;
    /** Runs that change the database (up, down) are handed to it: the service's shutdown waits for them. */
    readonly track?: RunTracker;
    /** Whether `check` runs before migrating, and whether builds are recorded (the options `deployCheck`, `runningBuilds`); default off. */
    readonly checks?: ChecksOption;
  }): MigrationOperations {
    const { plans, state, logger, redactor, control, onEvent } = settings;
    const emit = (event: MigrationEvent, from?: EventSource) => {
      state.apply(event);
      if (from) logProgress(logger, event, from);
      onEvent?.(event);
    };
    const tenantListing =
      settings.tenantListing ??
      (async (plan: DataSourcePlan) => {
        throw new AutoMigratorConfigError(`${dataSourceLabel(plan.name)}: tenants are only available inside the application (use --app)`);
      });
    return new MigrationOperations(
      plans,
      { logger, redactor, control, emit },
      state,
      tenantListing,
      { logger, everyMs: settings.progressEveryMs },
      settings.strategy,
      settings.track ?? ((work) => work),
      settings.checks ?? { deployCheck: { mode: 'off' }, runningBuilds: false },
    );
  }

  /** Reports an event the way the runners do: into the state first, then to `onEvent`. */
  report(event: MigrationEvent): void {
    this.env.emit(event);
  }

  /** The tenants of every selected plan configured with `tenants`, listed and validated up front. */
  async tenantsOf(plans: readonly DataSourcePlan[]): Promise<Map<string, string[]>> {
    const lists = new Map<string, string[]>();
    for (const plan of plans) if (plan.tenants) lists.set(plan.name, await this.tenantListing(plan));
    return lists;
  }

  runner(plan: DataSourcePlan): DataSourceMigrationRunner {
    return new DataSourceMigrationRunner(plan, this.env);
  }

  /**
   * {@link readStatuses}, with each PostgreSQL DataSource's INVALID indexes, and with `schema` each
   * DataSource's entities against its live schema: what `status` shows (CLI, API).
   */
  async status(options: StatusOptions = {}): Promise<DataSourceStatus[]> {
    const { schema, replay, ...target } = options;
    if (replay && !schema) throw new AutoMigratorConfigError('status: replay goes with schema: true (the history against the live schema)');
    const statuses = await this.readStatuses(target);
    const result: DataSourceStatus[] = [];
    // One DataSource after another: a replay runs a shadow database each.
    for (const status of statuses) {
      if (status.tenant !== undefined) {
        result.push(status);
        continue;
      }
      const runner = this.runnerOf(status);
      const invalidIndexes = await runner.readInvalidIndexes();
      const entityDrift = schema ? await runner.readEntityDrift() : undefined;
      const historyReplay = replay ? await replayInShadow(runner, status, replay) : undefined;
      result.push({
        ...status,
        ...(invalidIndexes ? { invalidIndexes } : {}),
        ...(entityDrift ? { entityDrift } : {}),
        ...(historyReplay ? { historyReplay } : {}),
      });
    }
    return result;
  }

  /**
   * What the migrations table says against this build, per DataSource (and its tenants, with
   * `tenants`): what counting pending migrations needs (at boot, for readiness), nothing more.
   */
  async readStatuses(target: OperationTarget = {}): Promise<DataSourceStatus[]> {
    const plans = this.select(target);
    const tenantLists = target.tenants ? await this.tenantsOf(plans) : new Map<string, string[]>();
    const result: DataSourceStatus[] = [];
    for (const plan of plans) {
      result.push({ dataSource: plan.name, ...(await this.runner(plan).readStatus()) });
      const tenants = tenantLists.get(plan.name) ?? [];
      const statuses: DataSourceStatus[] = new Array(tenants.length);
      const index = new Map(tenants.map((tenant, i) => [tenant, i]));
      await forEachTenant(tenants, plan.tenants?.concurrency ?? 1, this.env, async (tenant) => {
        statuses[index.get(tenant)!] = { dataSource: plan.name, tenant, ...(await this.runner(planTenant(plan, tenant)).readStatus()) };
      });
      result.push(...statuses);
    }
    return result;
  }

  /** Runs pending migrations under the lock, through the strategy, DataSource by DataSource (then its tenants with `tenants`). */
  async up(target: OperationTarget = {}): Promise<UpResult[]> {
    const strategy = await this.strategy();
    const plans = this.select(target);
    return this.tracked(async () => {
      const tenantLists = target.tenants ? await this.tenantsOf(plans) : new Map<string, string[]>();
      return this.migrate(plans, strategy, tenantLists);
    });
  }

  /**
   * Migrates the plans in order, each followed by its tenants (when listed in `tenantLists`).
   * Tenant failures are reported after every tenant was tried.
   */
  async migrate(
    plans: readonly DataSourcePlan[],
    strategy: MigrationStrategy,
    tenantLists: ReadonlyMap<string, string[]>,
  ): Promise<UpResult[]> {
    const results: UpResult[] = [];
    const scope = plans.map((plan) => ({ dataSource: plan.name, tenants: tenantLists.get(plan.name)?.length ?? 0 }));
    const progress = new RunProgress(this.progress.logger, this.state, scope, this.progress.everyMs);
    progress.start();
    try {
      await this.migrateInOrder(plans, strategy, tenantLists, results);
    } finally {
      progress.stop();
    }
    return results;
  }

  private async migrateInOrder(
    plans: readonly DataSourcePlan[],
    strategy: MigrationStrategy,
    tenantLists: ReadonlyMap<string, string[]>,
    results: UpResult[],
  ): Promise<void> {
    for (const plan of plans) {
      const runner = this.runner(plan);
      const { deployCheck, runningBuilds } = this.checks;
      await checkBeforeMigrating(runner, { ...deployCheck, ...(runningBuilds ? { runningBuilds } : {}) });
      await runner.migrate(strategy);
      results.push(this.result(plan.name));
      const tenants = tenantLists.get(plan.name);
      if (tenants) {
        try {
          await migrateTenants(plan, tenants, strategy, this.env, this.state);
        } finally {
          for (const tenant of tenants)
            results.push({ ...this.result(tenantKey({ parent: plan.name, name: tenant })), dataSource: plan.name, tenant });
        }
      }
    }
  }

  /** Starts `work` as a run the service's shutdown waits for and stops. */
  private tracked<T>(work: () => Promise<T>): Promise<T> {
    return this.track(work());
  }

  private result(key: string): UpResult {
    const state = this.state.get(key);
    return {
      dataSource: key,
      status: state?.status ?? 'done',
      applied: state?.applied ?? [],
      ...(state?.error !== undefined ? { error: state.error } : {}),
    };
  }

  /** Reverts, in every tenant of the selected DataSources, the tenant migrations newer than `to`. */
  async downTenants({ to, ...target }: DownOptions): Promise<RevertResult[]> {
    const plans = this.select(target).filter((plan) => plan.tenants);
    if (plans.length === 0) throw new AutoMigratorConfigError('No selected DataSource has tenants.');
    return this.tracked(async () => {
      const results: RevertResult[] = [];
      const tenantLists = await this.tenantsOf(plans);
      for (const plan of plans) {
        for (const tenant of tenantLists.get(plan.name) ?? []) {
          results.push({ ...(await revertMigrations(this.runner(planTenant(plan, tenant)), to)), tenant });
        }
      }
      return results;
    });
  }

  /** Reverts every applied migration newer than `to` (name, timestamp, or 0 for all) of one DataSource. */
  async down({ to, ...target }: DownOptions): Promise<RevertResult> {
    const plan = this.single('down', target);
    return this.tracked(async () => {
      const result = await revertMigrations(this.runner(plan), to);
      await this.recordPending(plan);
      return result;
    });
  }

  /**
   * Marks a migration recorded as started and never finished (see {@link MigrationDirtyError}) as
   * applied or not applied, after the schema was repaired by hand. One DataSource; refuses while a
   * migration run holds the lock.
   */
  async resolve({ migration, as, ...target }: ResolveOptions): Promise<ResolveResult> {
    const plan = this.single('resolve', target);
    if (target.tenants) return this.acceptInTenants(plan, migration, as);
    // Its own state: a refused lock or an unknown name is no failure of the DataSource's migrations.
    const result = await resolveStartedMigration(
      new DataSourceMigrationRunner(plan, { ...this.env, emit: () => undefined }),
      migration,
      as,
    );
    await this.recordPending(plan);
    return result;
  }

  /**
   * Accepts the edit of a tenant migration in every tenant that has it applied (see acceptChange),
   * one tenant at a time, each under its lock; a tenant migrating now refuses, as resolve does.
   */
  private async acceptInTenants(plan: DataSourcePlan, migration: string, as: ResolvedAs): Promise<ResolveResult> {
    if (as !== 'change-accepted' || !plan.tenants) {
      throw new AutoMigratorConfigError(
        plan.tenants
          ? `resolve with tenants only accepts a change (--accept-change): a dirty tenant migration is resolved tenant by tenant. Nothing was changed.`
          : `${dataSourceLabel(plan.name)} has no tenants. Nothing was changed.`,
      );
    }
    const quiet = { ...this.env, emit: () => undefined };
    const accepted: string[] = [];
    const notApplied: string[] = [];
    let first: ResolveResult | undefined;
    for (const tenant of (await this.tenantsOf([plan])).get(plan.name) ?? []) {
      const runner = new DataSourceMigrationRunner(planTenant(plan, tenant), quiet);
      // Read first, without a session: a tenant not migrated yet (no schema) is not created.
      const applied = (await runner.readStatus()).applied.some((m) => m.name === migration || String(m.timestamp) === migration);
      const result = applied ? await acceptChange(runner, migration, true) : undefined;
      (result ? accepted : notApplied).push(tenant);
      first ??= result;
    }
    if (!first) {
      throw new AutoMigratorConfigError(
        `${dataSourceLabel(plan.name)}: cannot accept a change of "${migration}": no tenant has a tenant migration of that name or timestamp applied. Nothing was changed.`,
      );
    }
    return {
      dataSource: plan.name,
      migration: first.migration,
      resolvedAs: 'change-accepted',
      ...(first.checksum ? { checksum: { accepted: first.checksum.accepted } } : {}),
      tenants: { accepted, notApplied },
    };
  }

  /** After down or resolve: what is pending now (readiness waits for the next up). */
  private async recordPending(plan: DataSourcePlan): Promise<void> {
    const pending = (await this.runner(plan).readPending()).length;
    this.env.emit({ type: 'history-changed', dataSource: plan.name, pending });
  }

  private single(operation: string, target: OperationTarget): DataSourcePlan {
    const plans = this.select(target);
    if (plans.length !== 1) {
      throw new AutoMigratorConfigError(
        `${operation} needs one DataSource; ${plans.length} are configured (${plans.map((plan) => `"${plan.name}"`).join(', ')}): name one.`,
      );
    }
    return plans[0]!;
  }

  /** Throws {@link PendingMigrationsError} listing what is pending per DataSource and tenant, if anything is. */
  async ensureUp(options: EnsureUpOptions = {}): Promise<DataSourceStatus[]> {
    const { strict, ...target } = options;
    const withTenants = this.select(target).some((plan) => plan.tenants);
    const statuses = await this.readStatuses({ ...target, tenants: withTenants });
    for (const status of statuses) {
      // Asked, not migrating: a refusal is thrown to the caller, and the DataSource's state is left as it is.
      const refusal = this.runnerOf(status).judgeHistory(status, strict === true);
      if (refusal) throw refusal;
    }
    const pending = Object.fromEntries(
      statuses
        .filter((status) => status.pending.length > 0)
        .map((status) => [
          status.tenant ? tenantKey({ parent: status.dataSource, name: status.tenant }) : status.dataSource,
          status.pending.map((migration) => migration.name),
        ]),
    );
    if (Object.keys(pending).length > 0) throw new PendingMigrationsError(pending);
    return statuses;
  }

  /** The runner of a status's DataSource, or of its tenant. */
  private runnerOf(status: DataSourceStatus): DataSourceMigrationRunner {
    const plan = this.plans.find((candidate) => candidate.name === status.dataSource)!;
    return this.runner(status.tenant === undefined ? plan : planTenant(plan, status.tenant));
  }

  /** Dry run: the SQL each pending migration executes (secrets redacted), inside a transaction that is rolled back. */
  async plan(options: PlanOptions = {}): Promise<DryRunResult[]> {
    const { dataSource, shadow, ...limits } = options;
    const results: DryRunResult[] = [];
    for (const plan of this.shadowed(dataSource, shadow)) {
      const runner = this.runner(plan);
      // PostgreSQL and MySQL/MariaDB in a shadow of the live database; SQLite on the file, rolled back.
      const inShadow = plan.dataSource.options.type === 'postgres' || isMysqlFamily(plan.dataSource);
      const dryRun = inShadow ? await dryRunInShadow(runner, limits, shadow ?? {}) : await dryRunMigrations(runner, limits);
      // In a shadow the plan also says what check's lock rules find in its statements, if anything.
      const analyzed = inShadow && dryRun.migrations.length > 0;
      const findings = analyzed ? (await analyzeDryRun(runner, dryRun)).findings : [];
      const shown = redactedDryRun(dryRun, runner.redactor);
      results.push(findings.length > 0 ? { ...shown, findings } : shown);
    }
    return results;
  }

  /**
   * Before a rolling deploy: what the pending migrations' real SQL (from a dry run) would do to the
   * live tables the running release uses (see checkDeploy). Writes nothing.
   */
  async check(options: CheckOptions = {}): Promise<DeployCheckResult[]> {
    const { dataSource, runningBuilds, shadow, ...settings } = options;
    const window = this.runningBuildsWindow(runningBuilds);
    const results: DeployCheckResult[] = [];
    for (const plan of this.shadowed(dataSource, shadow)) {
      const tenants = plan.tenants ? await this.tenantListing(plan) : undefined;
      results.push(
        await checkDeploy(this.runner(plan), {
          ...settings,
          shadow: shadow ?? {},
          ...(window ? { runningBuilds: window } : {}),
          ...(tenants ? { tenantsCheckedApart: true } : {}),
        }),
      );
      if (tenants && tenants.length > 0) {
        // Once, on the largest tenant's schema in the shadow: its tables grade what the tenant migrations do.
        const largest = (await largestSchema(plan.dataSource, tenants)) ?? tenants[0]!;
        results.push(
          await checkDeploy(this.runner(planTenant(plan, largest)), {
            ...settings,
            shadow: shadow ?? {},
            tenantOf: { listed: tenants.length },
          }),
        );
      }
    }
    return results;
  }

  /** Records, for each DataSource, that this build booted and what it maps (the option runningBuilds; PostgreSQL). Never throws. */
  async recordRunningBuilds(): Promise<void> {
    const { runningBuilds } = this.checks;
    if (!runningBuilds) return;
    for (const plan of this.plans) await recordRunningBuild(this.runner(plan), runningBuilds.label);
  }

  /** How far back check looks for recorded builds: as asked, else as the option says; undefined: not at all. */
  private runningBuildsWindow(asked: CheckOptions['runningBuilds']): { windowMs: number } | undefined {
    const configured = this.checks.runningBuilds;
    if (asked === false || (asked === undefined && !configured)) return undefined;
    const windowMs =
      (typeof asked === 'object' ? asked.windowMs : undefined) ?? (configured ? configured.windowMs : DEFAULT_RUNNING_BUILDS_WINDOW_MS);
    return { windowMs };
  }

  /** What this build's entities map (tables and columns as the database names them), to commit at release. Reads no table. */
  async snapshot(options: SnapshotOptions = {}): Promise<BuildSnapshot> {
    const dataSources: DataSourceSnapshot[] = [];
    for (const plan of this.select({ dataSource: options.dataSource })) dataSources.push(await snapshotDataSource(this.runner(plan)));
    return buildSnapshot(options.build ?? 'unnamed', dataSources);
  }

  /** The DataSources a dry run covers; one shadow URL is one database, for one PostgreSQL DataSource. */
  private shadowed(dataSource: string | undefined, shadow: ShadowOption | undefined): readonly DataSourcePlan[] {
    const plans = this.select({ dataSource });
    const shadowable = plans.filter((plan) => plan.dataSource.options.type === 'postgres' || isMysqlFamily(plan.dataSource));
    if (shadow?.url !== undefined && shadowable.length > 1) {
      throw new AutoMigratorConfigError(
        `A shadow database URL is one database, and ${shadowable.length} DataSources are checked (${shadowable.map((plan) => `"${plan.name}"`).join(', ')}): ` +
          `name one (--name, or { dataSource }), or give no URL and let each get a temporary shadow.`,
      );
    }
    return plans;
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
