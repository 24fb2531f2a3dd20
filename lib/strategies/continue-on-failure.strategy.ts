import { Injectable } from '@nestjs/common';
import { MigrationInterruptedError } from '../errors/migration-interrupted.error.js';
import { MigrationStrategy, type MigrationContext } from '../contracts/migration-strategy.js';

/**
 * Run the pending migrations; on error log it, mark the DataSource failed (readiness reports
 * it) and let the application boot. A shutdown's interruption is let through.
 */
@Injectable()
export class ContinueOnFailureStrategy extends MigrationStrategy {
  async migrate(context: MigrationContext): Promise<void> {
    try {
      await context.runMigrations();
    } catch (error) {
      if (error instanceof MigrationInterruptedError) throw error;
      context.logger.error(`${context.label}: continuing without its pending migrations; readiness reports it as failed`);
      context.markFailed(error);
    }
  }
}
