import type { Socket } from 'node:net';
import type { DataSource, QueryRunner } from 'typeorm';

/** The pieces of a TypeORM query runner's driver connection (pg PoolClient, mysql2 connection) used here. */
interface DriverConnection {
  connection?: { stream?: Socket };
  stream?: Socket;
  destroy?: () => void;
}

/** The driver's connection (pg Client, mysql2 connection) under a connected query runner: one object per server connection. */
export function driverConnection(queryRunner: QueryRunner): object | undefined {
  const connection = (queryRunner as { databaseConnection?: unknown }).databaseConnection;
  return typeof connection === 'object' && connection !== null ? connection : undefined;
}

/** The TCP (or Unix) socket under a connected query runner, where the driver exposes it. */
export function connectionSocket(queryRunner: QueryRunner): Socket | undefined {
  const connection = (queryRunner as { databaseConnection?: DriverConnection }).databaseConnection;
  return connection?.connection?.stream ?? connection?.stream;
}

/**
 * Closes a query runner's connection instead of returning it to the pool: for a connection whose
 * state is unknown (a lock that may still be held on it, a transaction that may still be open).
 */
export async function discardConnection(queryRunner: QueryRunner): Promise<void> {
  const runner = queryRunner as QueryRunner & {
    releasePostgresConnection?: (error: unknown) => Promise<void>;
    databaseConnection?: DriverConnection;
  };
  if (runner.releasePostgresConnection) {
    // An error passed to the pool's release callback makes pg close the client.
    await runner.releasePostgresConnection(new Error('connection closed for good')).catch(() => undefined);
    return;
  }
  runner.databaseConnection?.destroy?.();
  await runner.release().catch(() => undefined);
}

/**
 * The driver's pool of connections to the primary (TypeORM's `driver.master`: a pg Pool, a mysql2
 * pool): one per DataSource, shared by its tenant views. Undefined before it is connected.
 */
export function driverPool(dataSource: DataSource): object | undefined {
  const master = (dataSource.driver as { master?: unknown }).master;
  return typeof master === 'object' && master !== null ? master : undefined;
}
