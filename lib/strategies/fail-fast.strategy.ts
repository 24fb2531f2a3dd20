import { Injectable } from '@nestjs/common';
import { MigrationStrategy, type MigrationContext } from '../contracts/migration-strategy.js';

/** The default: run the pending migrations; on error rethrow, so a blocking boot fails. */
@Injectable()
export class FailFastStrategy extends MigrationStrategy {
  async migrate(context: MigrationContext): Promise<void> {
    await context.runMigrations();
  }
}
