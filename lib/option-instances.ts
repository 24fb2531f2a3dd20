import type { Type } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import { isMigrationStrategy, MigrationStrategy } from './contracts/migration-strategy.js';
import type { TenantSource } from './contracts/tenant-source.js';
import { AutoMigratorConfigError } from './errors/auto-migrator-config.error.js';
import type { ResolvedAutoMigratorOptions, TenantLister } from './options/auto-migrator-options.interface.js';
import type { DataSourcePlan } from './plan/migration-plan.js';
import { FailFastStrategy } from './strategies/fail-fast.strategy.js';
import { dataSourceLabel } from './util/data-source-label.js';
import type { SecretRedactor } from './util/secret-redactor.js';

/**
 * The classes the options name (the strategy, a tenants' TenantSource), as instances: the provider
 * the application registered, or one built by Nest with its dependencies injected.
 */
export class OptionInstances {
  private strategy?: Promise<MigrationStrategy>;

  constructor(
    private readonly options: ResolvedAutoMigratorOptions,
    private readonly moduleRef: ModuleRef,
    /** The redactor of the moment (it knows the DataSources' secrets once they are planned). */
    private readonly redactor: () => SecretRedactor,
  ) {}

  /** The strategy (made once): the option's instance or class, else a MigrationStrategy provider, else FailFastStrategy. */
  migrationStrategy(): Promise<MigrationStrategy> {
    this.strategy ??= this.instantiateStrategy();
    return this.strategy;
  }

  /** `tenants.list` as a function: the given one, or the listTenants of the TenantSource class (dependencies injected). */
  async tenantLister(plan: DataSourcePlan): Promise<TenantLister> {
    const list = plan.tenants?.list;
    if (!list) throw new AutoMigratorConfigError(`${dataSourceLabel(plan.name)} has no tenants option`);
    const prototype: unknown = list.prototype;
    if (!(typeof prototype === 'object' && prototype !== null && typeof (prototype as TenantSource).listTenants === 'function')) {
      return list as TenantLister;
    }
    const source = await this.instantiate(list as Type<TenantSource>, `dataSources "${plan.name}" tenants.list`);
    return (dataSource) => source.listTenants(dataSource);
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
          `AutoMigratorModule option "${option}": ${type.name} could not be instantiated (${this.redactor().message(error).split('\n')[0]}). ` +
            `Make it @Injectable() and make what it injects visible to the module: list the providers in ` +
            `forRootAsync({ extraProviders: [...] }) or their modules in "imports", or register ${type.name} itself as a provider.`,
          { cause: error },
        );
      }
    }
  }
}
