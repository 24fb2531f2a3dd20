import { Injectable } from '@nestjs/common';
import { MigrationInterruptedError } from '../errors/migration-interrupted.error.js';
import { MigrationStrategy, type MigrationContext } from '../contracts/migration-strategy.js';

/**
 * For unattended devices whose data can be rebuilt: run the pending migrations; on error drop
 * every table of that DataSource and migrate from scratch; if that fails too, mark the
 * DataSource failed and let the application boot. DESTROYS DATA: only used when chosen. A
 * shutdown's interruption is let through: nothing is dropped.
 */
@Injectable()
export class RecreateOnFailureStrategy extends MigrationStrategy {
  async migrate(context: MigrationContext): Promise<void> {
    try {
      await context.runMigrations();
      return;
    } catch (error) {
      if (error instanceof MigrationInterruptedError) throw error;
      context.logger.fatal(
        `${context.label}: migrations failed; dropping every table and migrating from scratch (RecreateOnFailureStrategy)`,
      );
    }
    try {
      await context.dropAndMigrate();
      context.logger.warn(`${context.label}: recreated from scratch; its previous data is gone`);
    } catch (error) {
      if (error instanceof MigrationInterruptedError) throw error;
      context.logger.fatal(`${context.label}: migrating from scratch failed too; continuing with the DataSource marked failed`);
      context.markFailed(error);
    }
  }
}
