// TypeORM's migration internals we use, in one place, for TypeORM 0.3 and 1.x alike. Checked by
// test/integration/typeorm-internals.spec.ts on every TypeORM the suite runs with (npm test runs both stacks).
import { Migration, MigrationExecutor, type DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { ConnectionMetadataBuilder } from 'typeorm/connection/ConnectionMetadataBuilder.js';
import { ObjectUtils } from 'typeorm/util/ObjectUtils.js';

/**
 * A migration's own `transaction` setting (`false`: it runs outside any transaction). TypeORM 0.3.11
 * added it to MigrationInterface; on older releases it is simply not there.
 */
export function declaredTransaction(migration: MigrationInterface | undefined): boolean | undefined {
  return (migration as { transaction?: boolean } | undefined)?.transaction;
}

/** This build's migrations as TypeORM sees them (sorted by timestamp, with their instances). */
export function knownMigrations(dataSource: DataSource): Migration[] {
  return new BuildMigrationList(dataSource).list();
}

class BuildMigrationList extends MigrationExecutor {
  list(): Migration[] {
    return this.getMigrations();
  }
}

/**
 * The migrations of a DataSource that is not connected, loaded as TypeORM's initialize() loads
 * them (classes, or globs imported), without connecting.
 */
export async function loadMigrationsUnconnected(dataSource: DataSource): Promise<MigrationInterface[]> {
  const configured = ObjectUtils.mixedListToArray(dataSource.options.migrations ?? []);
  return new ConnectionMetadataBuilder(dataSource).buildMigrations(configured);
}

/** `schema.table` escaped for the query runner's database (TypeORM's internal escapePath). */
export function escapeTablePath(queryRunner: QueryRunner, path: string): string {
  return (queryRunner as unknown as { escapePath(target: string): string }).escapePath(path);
}

/** The better-sqlite3 constructor TypeORM's driver loaded (the same module the application uses). */
export function sqliteConnectionClass<T>(dataSource: DataSource): T {
  return (dataSource.driver as unknown as { sqlite: T }).sqlite;
}

/** How many transactions are open on the query runner (TypeORM counts nested ones as savepoints). */
export function transactionDepth(queryRunner: QueryRunner): number {
  return (queryRunner as unknown as { transactionDepth: number }).transactionDepth;
}

/**
 * The driver classes and settings TypeORM's pools were made with, to open one connection outside
 * the pool with the same host, credentials and TLS: pg's Client and the master pool's options,
 * mysql2's Connection and its pool's connection config.
 */
export function driverClients<PgClient, MysqlConnection>(
  dataSource: DataSource,
): {
  readonly pg?: { readonly Client?: new (options: unknown) => PgClient; readonly options?: unknown };
  readonly mysql?: { readonly Connection?: new (options: { config: unknown }) => MysqlConnection; readonly config?: unknown };
} {
  const driver = dataSource.driver as unknown as {
    master?: { Client?: new (options: unknown) => PgClient; options?: unknown };
    pool?: { config?: { connectionConfig?: unknown } };
    mysql?: { Connection?: new (options: { config: unknown }) => MysqlConnection };
  };
  return {
    pg: driver.master ? { Client: driver.master.Client, options: driver.master.options } : undefined,
    mysql: driver.mysql ? { Connection: driver.mysql.Connection, config: driver.pool?.config?.connectionConfig } : undefined,
  };
}
