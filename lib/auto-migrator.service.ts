import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ModuleRef, ModulesContainer } from '@nestjs/core';
import { AUTO_MIGRATOR_LOGGER_CONTEXT, AUTO_MIGRATOR_RESOLVED_OPTIONS } from './auto-migrator.constants.js';
import { AutoMigratorConfigError } from './errors/auto-migrator-config.error.js';
import type { ResolvedAutoMigratorOptions } from './options/auto-migrator-options.interface.js';
import { planDataSources, type DataSourcePlan } from './plan/migration-plan.js';
import { NestDataSourceRegistry } from './plan/nest-data-source.registry.js';
import { DataSourceMigrationRunner } from './runner/data-source-migration.runner.js';
import { MigrationStateStore, type DataSourceMigrationState } from './state/migration-state.js';
import { FailFastStrategy } from './strategies/fail-fast.strategy.js';
import { isMigrationStrategy, MigrationStrategy } from './strategies/migration-strategy.js';
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
  readonly error?: string;
  /** ISO time since when this process waits for the migration lock. */
  readonly waitingSince?: string;
  /** Who holds the migration lock, as the database tells. */
  readonly lockHolder?: string;
}

/**
 * Runs each configured DataSource's pending migrations at application bootstrap when
 * migrations are enabled, through the configured strategy, and keeps their state.
 */
@Injectable()
export class AutoMigratorService implements OnApplicationBootstrap {
  private readonly logger = new Logger(AUTO_MIGRATOR_LOGGER_CONTEXT);
  private plans: readonly DataSourcePlan[] = [];
  private redactor = new SecretRedactor();
  private finished: Promise<void> = Promise.resolve();
  private pendingCheck?: { expiresAt: number; counts: Promise<Map<string, number>> };

  constructor(
    @Inject(AUTO_MIGRATOR_RESOLVED_OPTIONS) private readonly options: ResolvedAutoMigratorOptions,
    private readonly moduleRef: ModuleRef,
    private readonly modules: ModulesContainer,
    private readonly state: MigrationStateStore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.plans = planDataSources(this.options, new NestDataSourceRegistry(this.moduleRef, this.modules));
    this.redactor = SecretRedactor.forDataSources(this.plans.map((plan) => plan.dataSource));
    const names = this.plans.map((plan) => `"${plan.name}"`).join(', ');
    for (const plan of this.plans) {
      if (plan.dataSource.options.migrationsRun) {
        this.logger.warn(
          `DataSource "${plan.name}" has migrationsRun: true, so TypeORM already ran its migrations before this module, with no strategy; remove it`,
        );
      }
    }

    if (!this.options.runMigrations) {
      for (const plan of this.plans) {
        this.state.set({ dataSource: plan.name, status: 'disabled', pending: 0, applied: [] });
      }
      this.logger.log(`Migrations disabled (${this.options.runMigrationsSource} is off): not running them for ${names}`);
      return;
    }

    const strategy = await this.resolveStrategy();
    for (const plan of this.plans) {
      this.state.set({ dataSource: plan.name, status: 'pending', pending: 0, applied: [] });
    }
    this.logger.log(
      `Migrations enabled (${this.options.runMigrationsSource}): migrating ${names} with ${strategy.constructor.name} in ${this.options.mode} mode`,
    );
    const run = this.migrateAll(strategy);
    this.finished = run.then(
      () => undefined,
      () => undefined,
    );
    if (this.options.mode === 'background') {
      run.catch((error: unknown) => {
        this.logger.error(
          `Background migrations stopped: ${this.redactor.message(error)}. The application keeps serving; readiness stays down.`,
        );
      });
      return;
    }
    await run;
  }

  /** Resolves when the migrations started at bootstrap have finished, whatever the outcome. */
  whenFinished(): Promise<void> {
    return this.finished;
  }

  /** A snapshot of every configured DataSource's migration state, in configuration order. */
  getState(): DataSourceMigrationState[] {
    return this.state.all();
  }

  /**
   * Ready when every DataSource is done. While migrations are disabled: ready when the database
   * has no pending migrations (asked at most once per `pendingCheckTtlMs`).
   */
  async getReadiness(): Promise<MigrationReadiness> {
    if (!this.options.runMigrations && this.plans.length > 0) return this.disabledReadiness();
    const states = this.state.all();
    return {
      ready: states.length > 0 && states.every((state) => state.status === 'done'),
      dataSources: Object.fromEntries(states.map((state) => [state.dataSource, describe(state)])),
    };
  }

  private async migrateAll(strategy: MigrationStrategy): Promise<void> {
    for (const plan of this.plans) {
      await new DataSourceMigrationRunner(plan, this.state, this.logger, this.redactor).migrate(strategy);
    }
  }

  private async resolveStrategy(): Promise<MigrationStrategy> {
    const configured = this.options.strategy;
    let strategy: unknown;
    if (typeof configured === 'function') {
      try {
        strategy = this.moduleRef.get(configured, { strict: false });
      } catch {
        try {
          strategy = await this.moduleRef.create(configured);
        } catch (error) {
          throw new AutoMigratorConfigError(
            `AutoMigratorModule option "strategy": ${configured.name} could not be instantiated (${this.redactor.message(error).split('\n')[0]}). ` +
              `Make it @Injectable() and make what it injects visible to the module: list the providers in ` +
              `forRootAsync({ extraProviders: [...] }) or their modules in "imports", or register ${configured.name} itself as a provider.`,
            { cause: error },
          );
        }
      }
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

  private async disabledReadiness(): Promise<MigrationReadiness> {
    const now = Date.now();
    if (!this.pendingCheck || this.pendingCheck.expiresAt <= now) {
      this.pendingCheck = { expiresAt: now + this.options.pendingCheckTtlMs, counts: this.countPending() };
    }
    try {
      const counts = await this.pendingCheck.counts;
      const dataSources: Record<string, MigrationReadinessDetail> = {};
      for (const [name, pending] of counts) dataSources[name] = { state: 'disabled', pending };
      return { ready: [...counts.values()].every((pending) => pending === 0), dataSources };
    } catch (error) {
      this.pendingCheck = undefined;
      const message = `could not read pending migrations: ${this.redactor.message(error)}`;
      return {
        ready: false,
        dataSources: Object.fromEntries(this.plans.map((plan) => [plan.name, { state: 'disabled', error: message }])),
      };
    }
  }

  private async countPending(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const plan of this.plans) {
      const runner = new DataSourceMigrationRunner(plan, this.state, this.logger, this.redactor);
      counts.set(plan.name, (await runner.readPending()).length);
    }
    return counts;
  }
}

function describe(state: DataSourceMigrationState): MigrationReadinessDetail {
  return {
    state: state.status,
    pending: state.pending,
    applied: state.applied.length,
    ...(state.current
      ? { running: state.current.name, index: state.current.index, total: state.current.total }
      : {}),
    ...(state.waitingSince ? { waitingSince: state.waitingSince.toISOString() } : {}),
    ...(state.lockHolder !== undefined ? { lockHolder: state.lockHolder } : {}),
    ...(state.failedMigration !== undefined ? { failedMigration: state.failedMigration } : {}),
    ...(state.error !== undefined ? { error: state.error } : {}),
  };
}
