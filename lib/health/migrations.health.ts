import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { DEFAULT_HEALTH_KEY } from '../auto-migrator.constants.js';
import { AutoMigratorService } from '../auto-migrator.service.js';

/**
 * Terminus readiness indicator: up when every configured DataSource's migrations are done (or,
 * with migrations disabled, when none are pending); down otherwise. Never throws, so Terminus
 * answers 503 rather than 500.
 */
@Injectable()
export class MigrationsHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly migrator: AutoMigratorService,
  ) {}

  async isReady<const Key extends string = typeof DEFAULT_HEALTH_KEY>(
    key: Key = DEFAULT_HEALTH_KEY as Key,
  ): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.health.check(key);
    try {
      const readiness = await this.migrator.getReadiness();
      const details = { dataSources: readiness.dataSources };
      return readiness.ready ? indicator.up(details) : indicator.down(details);
    } catch {
      return indicator.down({ message: 'migration readiness could not be determined; see the application log' });
    }
  }
}
