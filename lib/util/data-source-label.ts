/** How log lines and errors name what is migrated: `DataSource "app"`, or `DataSource "app", tenant "acme"`. */
export function dataSourceLabel(dataSource: string, tenant?: string): string {
  return tenant === undefined ? `DataSource "${dataSource}"` : `DataSource "${dataSource}", tenant "${tenant}"`;
}
