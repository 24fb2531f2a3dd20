import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AutoMigratorModule } from 'nestjs-auto-migrator';
import { CreateWidgets1700000000000 } from './database/migrations/1700000000000-CreateWidgets';
import { HealthModule } from './health/health.module';

@Module({
  imports: [
    // The same options as src/database/data-source.ts; no migrationsRun: AutoMigratorModule runs them.
    TypeOrmModule.forRootAsync({
      useFactory: () => ({
        type: 'postgres',
        url: process.env.DATABASE_URL,
        migrations: [CreateWidgets1700000000000],
      }),
    }),
    AutoMigratorModule.forRootAsync({
      useFactory: () => ({ runMigrations: process.env.RUN_MIGRATIONS ?? 'false' }),
    }),
    HealthModule,
  ],
})
export class AppModule {}
