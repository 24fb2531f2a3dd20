import type { DataSource, MigrationInterface } from 'typeorm';

/**
 * A view of `dataSource` for one tenant schema: the same connection pool, but its driver reports
 * `schema` as the tenant, so TypeORM qualifies table paths (the migrations table, `createTable`,
 * `addColumn`…) with the tenant schema; its migrations are the tenant migrations. Raw, unqualified
 * SQL in a migration lands in the tenant through `search_path`, which the migration session sets.
 * Creates no pool and no connection: thousands of tenants cost no more than one DataSource.
 */
export function tenantDataSource(
  dataSource: DataSource,
  schema: string,
  migrations: readonly MigrationInterface[],
  migrationsTableName: string | undefined,
): DataSource {
  const options = Object.freeze({
    ...dataSource.options,
    schema,
    migrationsTableName: migrationsTableName ?? dataSource.options.migrationsTableName ?? 'migrations',
  });
  const driverOptions = Object.freeze({ ...dataSource.driver.options, schema });
  const driver = new Proxy(dataSource.driver, {
    get: (target, property, receiver) => {
      if (property === 'schema') return schema;
      if (property === 'options') return driverOptions;
      // TypeORM 1.x names it dataSource (query runners read it), 0.3 connection.
      if (property === 'dataSource' || property === 'connection') return view;
      return Reflect.get(target, property, receiver);
    },
  });
  // The driver's getter reads `view` only when called, after it is set.
  const view: DataSource = new Proxy(dataSource, {
    get: (target, property, receiver) => {
      if (property === 'driver') return driver;
      if (property === 'options') return options;
      if (property === 'migrations') return migrations;
      return Reflect.get(target, property, receiver);
    },
  });
  return view;
}
