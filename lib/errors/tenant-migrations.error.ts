/** Some tenants of a DataSource could not be migrated; the others were. Thrown after every tenant was tried. */
export class TenantMigrationsError extends Error {
  override readonly name = 'TenantMigrationsError';

  constructor(
    readonly dataSource: string,
    /** The failed tenants with their (redacted) error messages. */
    readonly failed: ReadonlyArray<{ readonly tenant: string; readonly error: string }>,
    readonly total: number,
  ) {
    const shown = failed.slice(0, 10).map((failure) => failure.tenant);
    super(
      `DataSource "${dataSource}": migrations failed for ${failed.length} of ${total} tenants: ${shown.join(', ')}` +
        `${failed.length > shown.length ? ` and ${failed.length - shown.length} more` : ''}. The other tenants are migrated. ` +
        `First error: ${failed[0]?.error ?? 'unknown'}`,
    );
  }
}
