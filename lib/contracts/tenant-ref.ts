/** One tenant (a PostgreSQL schema) of a configured DataSource with `tenants`. */
export interface TenantRef {
  /** The tenant's name: its schema. */
  readonly name: string;
  /** The configured DataSource it belongs to. */
  readonly parent: string;
}

/** How the state, the events and the results key a tenant: `<DataSource>/<tenant>`. */
export function tenantKey(tenant: TenantRef): string {
  return `${tenant.parent}/${tenant.name}`;
}
