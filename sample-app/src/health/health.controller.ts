import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { MigrationsHealthIndicator } from 'nestjs-auto-migrator';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly migrations: MigrationsHealthIndicator,
    private readonly database: TypeOrmHealthIndicator,
  ) {}

  /** Liveness: the process answers. Touches no database, so a slow migration never restarts the pod. */
  @Get('live')
  live() {
    return { status: 'ok' };
  }

  /** Readiness: route traffic only once the schema this build needs exists and the database answers. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.migrations.isReady(), () => this.database.pingCheck('database')]);
  }
}
