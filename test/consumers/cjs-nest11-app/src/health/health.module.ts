import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';

// No AutoMigratorModule import here: it is global, so MigrationsHealthIndicator is injectable in any module.
@Module({
  imports: [TerminusModule],
  controllers: [HealthController],
})
export class HealthModule {}
