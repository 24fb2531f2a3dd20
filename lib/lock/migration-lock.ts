import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DataSource, QueryRunner } from 'typeorm';
import { invariant } from '../errors/invariant.error.js';
import type { LockCondition, MigrationLockKind } from '../contracts/lock-contract.js';
import { driverPool } from '../typeorm/driver-connection.js';

/**
 * A cross-process mutex for one migrations table. Implementations: PostgreSQL advisory lock held
 * by the session or by a transaction, MySQL/MariaDB named lock, SQLite file lock.
 */
export interface MigrationLock {
  /** What is locked, for log lines. */
  readonly description: string;
  /** Held by the migration session's own connection (not by a connection or file of its own). */
  readonly heldBySession: boolean;
  /**
   * A SQL condition, true only while the session's connection holds the lock, that a statement of
   * the session can carry instead of a separate {@link verify} round trip (MySQL: `IS_USED_LOCK`).
   */
  readonly heldCondition?: LockCondition;
  /** Tries to take the lock, waiting at most `waitMs` (0: do not wait). */
  tryAcquire(waitMs: number): Promise<boolean>;
  /**
   * Checks, on the database, that this process still holds the lock: before each migration. Throws
   * a {@link MigrationLockError} when it does not (a pooler swapped the connection, the connection
   * died).
   */
  verify(): Promise<void>;
  /** Who holds the lock now, as far as the database tells (pid, client, since when). */
  holder(): Promise<string | undefined>;
  /** Releases the lock. Throws when that fails: the caller must then close the connection for good. */
  release(): Promise<void>;
  /**
   * Where the lock is held by the session's own connection (PostgreSQL session scope): releases it
   * and, in the same statement, resets these settings of that connection to their session defaults;
   * `first`, an SQL expression (literals only), is evaluated in that statement before the unlock.
   */
  releaseResetting?(settings: readonly string[], first?: string): Promise<void>;
}

/** The advice every pooler-related lock error ends with. */
export const POOLER_ADVICE =
  `This happens behind a connection pooler in transaction mode (PgBouncer pool_mode=transaction, Supabase/Neon poolers, RDS Proxy), ` +
  `which hands each transaction any server connection: use lock: { mode: 'transaction' } (the default 'auto' picks it when it sees a proxy), ` +
  `or connect the migrating DataSource to PostgreSQL directly.`;

/** The identity of a migrations table as the server resolves it: what one lock protects. */
export interface MigrationsTableIdentity {
  /** PostgreSQL `current_database()`, MySQL `DATABASE()`, or the SQLite file's real path. */
  readonly database: string;
  /** PostgreSQL: the schema the table lives in (the configured one, else `current_schema()`). */
  readonly schema: string;
  readonly table: string;
}

/** current_database() of each connection pool, as the server answered it. */
const databaseOfPool = new WeakMap<object, string>();

/**
 * Reads, on `queryRunner` (the connection that takes the lock), which table the migrations table
 * really is: the database and schema the server resolves, not how the configuration spells them.
 * Two replicas that reach the same table through a pooler alias and directly, or with and without
 * `schema: 'public'`, get the same identity, so the same lock.
 */
export async function resolveMigrationsTableIdentity(
  kind: MigrationLockKind,
  dataSource: DataSource,
  queryRunner: QueryRunner | undefined,
): Promise<MigrationsTableIdentity> {
  const options = dataSource.options as { database?: unknown; migrationsTableName?: string };
  const table = options.migrationsTableName ?? 'migrations';
  if (kind === 'sqlite-file') {
    return { database: realSqlitePath(String(options.database)), schema: '', table };
  }
  invariant(queryRunner, `the ${kind} migration lock needs a dedicated connection`);
  if (kind === 'postgres') {
    // The tenant view and the `schema` option qualify the migrations table; else it is where the
    // server's search_path puts it.
    const configured = dataSource.driver.schema;
    // With the schema configured, only the database is asked: once per pool (every connection of a
    // DataSource, and of its tenant views, reaches the same one).
    const pool = driverPool(dataSource);
    const known = configured !== undefined && pool ? databaseOfPool.get(pool) : undefined;
    if (configured !== undefined && known !== undefined) return { database: known, schema: configured, table };
    const rows = (await queryRunner.query('SELECT current_database() AS database, current_schema() AS schema')) as Array<{
      database: string;
      schema: string | null;
    }>;
    const row = rows[0];
    if (pool && row?.database) databaseOfPool.set(pool, String(row.database));
    return { database: String(row?.database), schema: configured ?? row?.schema ?? '', table };
  }
  const rows = (await queryRunner.query('SELECT DATABASE() AS db, @@lower_case_table_names AS lower')) as Array<{
    db: string | null;
    lower: number | string;
  }>;
  const row = rows[0];
  const configured = typeof options.database === 'string' ? options.database : '';
  const database = row?.db ?? configured;
  // lower_case_table_names 1 or 2: database and table names compare case-insensitively.
  const folded = Number(row?.lower) > 0;
  return { database: folded ? database.toLowerCase() : database, schema: '', table: folded ? table.toLowerCase() : table };
}

/** The SQLite file as the operating system names it: relative paths and links resolved. */
function realSqlitePath(file: string): string {
  const absolute = resolve(file);
  try {
    return realpathSync(absolute);
  } catch {
    return absolute;
  }
}

/** A stable 32-byte digest of the migrations table identity: the source of every lock key. */
export function lockDigest(identity: MigrationsTableIdentity): Buffer {
  return createHash('sha256').update(['nestjs-auto-migrator', identity.database, identity.schema, identity.table].join('\0')).digest();
}

export function describeTable(identity: MigrationsTableIdentity): string {
  return [identity.database, identity.schema, identity.table].filter(Boolean).join('.');
}
