import { Module, type Provider } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { AUTO_MIGRATOR_RESOLVED_OPTIONS } from './auto-migrator.constants.js';
import { AUTO_MIGRATOR_MODULE_OPTIONS, AutoMigratorConfigurableModule } from './auto-migrator.module-definition.js';
import { AutoMigratorService } from './auto-migrator.service.js';
import { MigrationsHealthIndicator } from './health/migrations.health.js';
import type { AutoMigratorModuleOptions } from './options/auto-migrator-options.interface.js';
import { readProcessEnv, resolveAutoMigratorOptions, type SettingReader } from './options/resolve-options.js';
import { MigrationStateStore } from './state/migration-state.js';

const resolvedOptionsProvider: Provider = {
  provide: AUTO_MIGRATOR_RESOLVED_OPTIONS,
  inject: [AUTO_MIGRATOR_MODULE_OPTIONS, { token: ConfigService, optional: true }],
  useFactory: (options: AutoMigratorModuleOptions, config: ConfigService | undefined) =>
    resolveAutoMigratorOptions(options, config ? readConfigService(config) : readProcessEnv),
};

function readConfigService(config: ConfigService): SettingReader {
  return (key) => ({ value: config.get<unknown>(key), source: `ConfigService "${key}"` });
}

/**
 * Runs TypeORM migrations at application bootstrap when enabled (RUN_MIGRATIONS), through a
 * pluggable MigrationStrategy, and exposes a Terminus readiness indicator.
 *
 * `AutoMigratorModule.forRoot(options)` or `AutoMigratorModule.forRootAsync({ imports, inject,
 * useFactory | useClass | useExisting, isGlobal, extraProviders })`.
 */
@Module({
  imports: [TerminusModule],
  providers: [resolvedOptionsProvider, MigrationStateStore, AutoMigratorService, MigrationsHealthIndicator],
  exports: [AutoMigratorService, MigrationsHealthIndicator],
})
export class AutoMigratorModule extends AutoMigratorConfigurableModule {}
