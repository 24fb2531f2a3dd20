import { Injectable } from '@nestjs/common';
import { MigrationInterruptedError, MigrationStrategy, type MigrationContext } from 'nestjs-auto-migrator';
import { BackupService } from '../backup/backup.service.js';

/**
 * A custom strategy with an injected dependency: back up before migrating; if migrating fails,
 * restore the backup and try once more; if that fails too, restore again and boot with the
 * DataSource marked failed (readiness stays down), so a device always comes up on a known schema.
 * DataSources the BackupService cannot back up fail fast. A shutdown (SIGTERM) while migrating is
 * not a failure: the interruption is rethrown, nothing is restored, the next boot continues.
 */
@Injectable()
export class RestoreBackupStrategy extends MigrationStrategy {
  constructor(private readonly backups: BackupService) {
    super();
  }

  async migrate(context: MigrationContext): Promise<void> {
    const { dataSource, label, logger } = context;
    if (!this.backups.supports(dataSource)) {
      await context.runMigrations();
      return;
    }
    const backup = await this.backups.backup(dataSource);
    try {
      await context.runMigrations();
      return;
    } catch (error) {
      if (error instanceof MigrationInterruptedError) throw error;
      logger.warn(`${label}: restoring the backup taken before migrating, then retrying once`);
    }
    await this.backups.restore(dataSource, backup);
    try {
      await context.runMigrations();
    } catch (error) {
      if (error instanceof MigrationInterruptedError) throw error;
      await this.backups.restore(dataSource, backup);
      logger.error(`${label}: the retry failed too; serving the restored schema`);
      context.markFailed(error);
    }
  }
}
