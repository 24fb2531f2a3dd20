import type mysql from 'mysql2/promise';
import type pg from 'pg';
import type { DataSourceOptions } from 'typeorm';

export type DbKind = 'postgres' | 'mariadb' | 'sqlite';

/** A database created for one test or benchmark, dropped by `drop()`. */
export interface CreatedDatabase {
  readonly kind: DbKind;
  readonly name: string;
  /** TypeORM connection options for it (no migrations, no entities). */
  readonly options: DataSourceOptions;
  /** A URL for it (SQLite: the file path). */
  readonly url: string;
  /** Runs SQL on a separate connection and returns the rows. */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Table names, sorted. */
  tables(): Promise<string[]>;
  /** Names recorded in the migrations table, in insertion order ([] when the table is absent). */
  recorded(table?: string): Promise<string[]>;
  drop(): Promise<void>;
}

export function createDatabase(
  kind: DbKind,
  servers: { readonly postgres: string; readonly mariadb: string | null },
  prefix?: string,
): Promise<CreatedDatabase>;
export function withPg<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T>;
export function withMysql<T>(url: string, use: (connection: mysql.Connection) => Promise<T>): Promise<T>;
