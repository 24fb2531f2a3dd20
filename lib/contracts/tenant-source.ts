import type { DataSource } from 'typeorm';

/**
 * Lists a DataSource's tenants, with dependencies injected: extend it and pass the class as
 * `tenants.list` (make it visible to the module like a strategy: `extraProviders`).
 */
export abstract class TenantSource {
  abstract listTenants(dataSource: DataSource): Promise<readonly string[]> | readonly string[];
}
