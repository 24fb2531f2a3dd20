import { listNames } from '../util/name-list.js';
import { AutoMigratorError } from './auto-migrator.error.js';
import { dataSourceLabel } from '../util/data-source-label.js';

/** Some tenants of a DataSource could not be migrated; the others were. Thrown after every tenant was tried. */
export class TenantMigrationsError extends AutoMigratorError {
  override readonly name = 'TenantMigrationsError';

  constructor(
    readonly dataSource: string,
    /** The failed tenants with their (redacted) error messages. */
    readonly failed: ReadonlyArray<{ readonly tenant: string; readonly error: string }>,
    readonly total: number,
  ) {
    super(
      `${dataSourceLabel(dataSource)}: migrations failed for ${failed.length} of ${total} tenants: ${listNames(failed.map((failure) => failure.tenant))}. ` +
        `The other tenants are migrated. ` +
        `First error: ${failed[0]?.error ?? 'unknown'}`,
    );
  }
}
