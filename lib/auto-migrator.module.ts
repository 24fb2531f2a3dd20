import { Module, type Provider } from '@nestjs/common';
import type { ConfigService } from '@nestjs/config';
import type { HealthIndicatorService } from '@nestjs/terminus';
import { AUTO_MIGRATOR_RESOLVED_OPTIONS } from './auto-migrator.constants.js';
import { AUTO_MIGRATOR_MODULE_OPTIONS, AutoMigratorConfigurableModule } from './auto-migrator.module-definition.js';
import { AutoMigratorService } from './auto-migrator.service.js';
import { MigrationsHealthIndicator } from './health/migrations.health.js';
import type { AutoMigratorModuleOptions } from './options/auto-migrator-options.interface.js';
import { readProcessEnv, resolveAutoMigratorOptions, type SettingReader } from './options/resolve-options.js';
import { MigrationStateStore } from './state/migration-state.js';
import { loadOptionalPeer } from './util/optional-peer.js';

// Optional peers: ConfigModule users get RUN_MIGRATIONS & co. from ConfigService, everyone else
// from process.env; Terminus users get the indicator built by HealthIndicatorService.
const configPeer = loadOptionalPeer<typeof import('@nestjs/config')>('@nestjs/config');
const terminusPeer = loadOptionalPeer<typeof import('@nestjs/terminus')>('@nestjs/terminus');

const resolvedOptionsProvider: Provider = {
  provide: AUTO_MIGRATOR_RESOLVED_OPTIONS,
  inject: [AUTO_MIGRATOR_MODULE_OPTIONS, ...(configPeer ? [{ token: configPeer.ConfigService, optional: true }] : [])],
  useFactory: (options: AutoMigratorModuleOptions, config: ConfigService | undefined) =>
    resolveAutoMigratorOptions(options, config ? readConfigService(config) : readProcessEnv),
};

const healthIndicatorProvider: Provider = {
  provide: MigrationsHealthIndicator,
  inject: [AutoMigratorService, ...(terminusPeer ? [terminusPeer.HealthIndicatorService] : [])],
  useFactory: (migrator: AutoMigratorService, health: HealthIndicatorService | undefined) =>
    new MigrationsHealthIndicator(health, migrator),
};

function readConfigService(config: ConfigService): SettingReader {
  return (key) => ({ value: config.get<unknown>(key), source: `ConfigService "${key}"` });
}

/**
 * Runs TypeORM migrations at application bootstrap when enabled (RUN_MIGRATIONS), through a
 * pluggable MigrationStrategy, and exposes a readiness indicator (Terminus-shaped). Works without
 * the optional peers @nestjs/config (settings then come from process.env) and @nestjs/terminus.
 *
 * `AutoMigratorModule.forRoot(options)` or `AutoMigratorModule.forRootAsync({ imports, inject,
 * useFactory | useClass | useExisting, isGlobal, extraProviders })`.
 */
@Module({
  imports: terminusPeer ? [terminusPeer.TerminusModule] : [],
  providers: [resolvedOptionsProvider, MigrationStateStore, AutoMigratorService, healthIndicatorProvider],
  exports: [AutoMigratorService, MigrationsHealthIndicator],
})
export class AutoMigratorModule extends AutoMigratorConfigurableModule {}
