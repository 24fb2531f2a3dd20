import type { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { DEFAULT_HEALTH_KEY } from '../auto-migrator.constants.js';
import type { MigrationReadiness } from './readiness.js';

/** Where the indicator reads readiness from: AutoMigratorService. */
export interface ReadinessSource {
  getReadiness(): Promise<MigrationReadiness>;
}

/**
 * Terminus readiness indicator: up when every configured DataSource's migrations are done (or,
 * with migrations disabled, when none are pending); down otherwise. Never throws, so Terminus
 * answers 503 rather than 500.
 *
 * Provided by AutoMigratorModule (inject it; do not list it in your own providers). With
 * @nestjs/terminus installed the result is built by its HealthIndicatorService; without it, the
 * same shape (`{ [key]: { status: 'up' | 'down', ...details } }`) is built here, so the indicator
 * also serves a readiness endpoint written without Terminus.
 */
export class MigrationsHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService | undefined,
    private readonly migrator: ReadinessSource,
  ) {}

  async isReady<const Key extends string = typeof DEFAULT_HEALTH_KEY>(
    key: Key = DEFAULT_HEALTH_KEY as Key,
  ): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.health?.check(key) ?? plainIndicator(key);
    try {
      const readiness = await this.migrator.getReadiness();
      const details = { dataSources: readiness.dataSources };
      return readiness.ready ? indicator.up(details) : indicator.down(details);
    } catch {
      return indicator.down({ message: 'migration readiness could not be determined; see the application log' });
    }
  }
}

/** The result HealthIndicatorService.check(key) builds (Terminus 11 and 12), for applications without Terminus. */
function plainIndicator<Key extends string>(key: Key) {
  const compose =
    (status: 'up' | 'down') =>
    (details: Record<string, unknown>): HealthIndicatorResult<Key> =>
      ({ [key]: { ...details, status } }) as HealthIndicatorResult<Key>;
  return { up: compose('up'), down: compose('down') };
}
