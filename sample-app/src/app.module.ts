import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AutoMigratorModule } from 'nestjs-auto-migrator';
import { BackupService } from './backup/backup.service.js';
import { databaseOptions, SAMPLE_ROOT } from './database.config.js';
import { HealthController } from './health/health.controller.js';
import { RestoreBackupStrategy } from './migration-strategy/restore-backup.strategy.js';
import { NotesController } from './notes/notes.controller.js';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, envFilePath: join(SAMPLE_ROOT, '.env') }),
    TypeOrmModule.forRootAsync({ inject: [ConfigService], useFactory: databaseOptions }),
    AutoMigratorModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        // RUN_MIGRATIONS is read through ConfigService (real env first, then sample-app/.env).
        mode: config.get<string>('MIGRATIONS_MODE') === 'background' ? 'background' : 'blocking',
        strategy: RestoreBackupStrategy,
      }),
      // The strategy and what it injects, in the module's scope.
      extraProviders: [BackupService, RestoreBackupStrategy],
    }),
    TerminusModule,
  ],
  controllers: [HealthController, NotesController],
})
export class AppModule {}
