import { invariant } from '../errors/invariant.error.js';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { DataSource } from 'typeorm';
import type { MigrationLock, MigrationsTableIdentity } from './migration-lock.js';
import { sqliteConnectionClass } from '../typeorm/migration-internals.js';

/** The part of a better-sqlite3 connection this lock uses. */
interface SqliteConnection {
  exec(sql: string): unknown;
  close(): unknown;
}
type SqliteConnectionClass = new (file: string, options: { timeout: number }) => SqliteConnection;

const POLL_MS = 25;

/**
 * A lock on a file beside the database (`<database>.<table>.lock`), itself a tiny SQLite database
 * held with `BEGIN IMMEDIATE` on a connection of its own. SQLite takes that lock with POSIX
 * advisory file locks, which the operating system drops when the process dies, so a process
 * killed while migrating does not leave it held. A separate file, because a transaction held on
 * the database itself would block the migrations' own writes, and TypeORM shares one
 * better-sqlite3 connection across the application.
 */
export class SqliteFileLock implements MigrationLock {
  readonly description: string;
  readonly heldBySession = false;
  private readonly file: string;
  private connection: SqliteConnection | undefined;
  private held = false;

  constructor(
    private readonly dataSource: DataSource,
    identity: MigrationsTableIdentity,
  ) {
    this.file = `${identity.database}.${identity.table}.lock`;
    this.description = `SQLite lock file ${this.file}`;
  }

  async tryAcquire(waitMs: number): Promise<boolean> {
    const connection = this.open();
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        connection.exec('BEGIN IMMEDIATE');
        this.held = true;
        writeHolder(`${this.file}.holder`);
        return true;
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'SQLITE_BUSY') throw error;
      }
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await delay(Math.min(POLL_MS, left));
    }
  }

  /** The file lock cannot be lost while its connection is open, and only this process closes it. */
  async verify(): Promise<void> {
    invariant(this.held, `${this.description} is not held`);
  }

  async holder(): Promise<string | undefined> {
    try {
      return readFileSync(`${this.file}.holder`, 'utf8');
    } catch {
      return undefined;
    }
  }

  async release(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (!connection) return;
    if (this.held) {
      try {
        unlinkSync(`${this.file}.holder`);
      } catch {
        // Gone already, or not ours to remove: only informative; the lock itself is the SQLite file lock.
      }
    }
    this.held = false;
    // Closing the connection ends its transaction and drops the file lock, whatever state it is in.
    connection.close();
  }

  private open(): SqliteConnection {
    if (!this.connection) {
      const Connection = sqliteConnectionClass<SqliteConnectionClass>(this.dataSource);
      this.connection = new Connection(this.file, { timeout: 0 });
    }
    return this.connection;
  }
}

/**
 * Notes who holds the lock, for the log lines of those waiting. Synchronous, as every call on this
 * lock's SQLite connection is: a few bytes, and the first asynchronous file call of a process costs
 * milliseconds (it starts libuv's thread pool). Only informative: a failure is ignored.
 */
function writeHolder(file: string): void {
  try {
    writeFileSync(file, `pid ${process.pid} on ${hostname()}, since ${new Date().toISOString()}`);
  } catch {
    // The lock is held either way.
  }
}
