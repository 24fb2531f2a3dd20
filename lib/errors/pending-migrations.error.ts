import { listNames } from '../util/name-list.js';
import { AutoMigratorError } from './auto-migrator.error.js';
import { dataSourceLabel } from '../util/data-source-label.js';

/** Migrations are pending where none may be (`ensureUp()`, `whenDisabled: 'verify'`, `auto-migrator ensure-up`). */
export class PendingMigrationsError extends AutoMigratorError {
  override readonly name = 'PendingMigrationsError';

  constructor(
    /** Pending migration names per DataSource name (only DataSources with some); all of them, where the message shows the first few. */
    readonly pending: Readonly<Record<string, readonly string[]>>,
  ) {
    super(
      `Pending migrations: ${Object.entries(pending)
        .map(([dataSource, names]) => `${dataSourceLabel(dataSource)}: ${listNames(names)}`)
        .join('; ')}. Apply them first (RUN_MIGRATIONS=true on one process, or "auto-migrator up").`,
    );
  }
}
