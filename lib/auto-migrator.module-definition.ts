import { ConfigurableModuleBuilder, type Provider } from '@nestjs/common';
import type { AutoMigratorModuleOptions } from './options/auto-migrator-options.interface.js';

/** Extras accepted by `forRoot` / `forRootAsync` besides the options themselves. */
export interface AutoMigratorModuleExtras {
  /**
   * Register the module globally, as `TypeOrmModule.forRoot` is: `MigrationsHealthIndicator` and
   * `AutoMigratorService` can be injected in any module (a feature `HealthModule`, say). Default true.
   */
  isGlobal?: boolean;
  /** More providers for the module's scope, e.g. a custom strategy and what it injects. */
  extraProviders?: Provider[];
}

export const {
  ConfigurableModuleClass: AutoMigratorConfigurableModule,
  MODULE_OPTIONS_TOKEN: AUTO_MIGRATOR_MODULE_OPTIONS,
  OPTIONS_TYPE: AUTO_MIGRATOR_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: AUTO_MIGRATOR_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<AutoMigratorModuleOptions>({ moduleName: 'AutoMigrator' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createAutoMigratorOptions')
  .setExtras<AutoMigratorModuleExtras>({ isGlobal: true, extraProviders: [] }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal ?? true,
    providers: [...(definition.providers ?? []), ...(extras.extraProviders ?? [])],
  }))
  .build();

/** Argument of `AutoMigratorModule.forRoot()`. */
export type AutoMigratorModuleSyncOptions = typeof AUTO_MIGRATOR_OPTIONS_TYPE;
/** A class for `forRootAsync({ useClass })`: returns the options. */
export interface AutoMigratorOptionsFactory {
  createAutoMigratorOptions(): AutoMigratorModuleOptions | Promise<AutoMigratorModuleOptions>;
}

/** Argument of `AutoMigratorModule.forRootAsync()`. */
export type AutoMigratorModuleAsyncOptions = typeof AUTO_MIGRATOR_ASYNC_OPTIONS_TYPE;
