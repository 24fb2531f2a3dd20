import { rm, writeFile, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { DataSource } from 'typeorm';
import type { MigrationLock, MigrationsTableIdentity } from './migration-lock.js';

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
        await writeFile(`${this.file}.holder`, `pid ${process.pid} on ${hostname()}, since ${new Date().toISOString()}`).catch(
          () => undefined,
        );
        return true;
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'SQLITE_BUSY') throw error;
      }
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await delay(Math.min(POLL_MS, left));
    }
  }

  async holder(): Promise<string | undefined> {
    return readFile(`${this.file}.holder`, 'utf8').catch(() => undefined);
  }

  async release(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (!connection) return;
    if (this.held) await rm(`${this.file}.holder`, { force: true }).catch(() => undefined);
    this.held = false;
    // Closing the connection ends its transaction and drops the file lock, whatever state it is in.
    connection.close();
  }

  private open(): SqliteConnection {
    if (!this.connection) {
      const Connection = (this.dataSource.driver as unknown as { sqlite: SqliteConnectionClass }).sqlite;
      this.connection = new Connection(this.file, { timeout: 0 });
    }
    return this.connection;
  }
}
