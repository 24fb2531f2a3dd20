import type { DataSource, QueryRunner } from 'typeorm';
import type { MigrationLock } from './migration-lock.js';

/**
 * A server-side lock held by one connection of its own (taken from the DataSource's pool on
 * first use). Subclasses say how to lock, unlock and, when unlocking fails, destroy the connection
 * so that it never returns to the pool still holding the lock.
 */
export abstract class DedicatedConnectionLock implements MigrationLock {
  abstract readonly description: string;
  private runner: QueryRunner | undefined;

  constructor(protected readonly dataSource: DataSource) {}

  get queryRunner(): QueryRunner | undefined {
    return this.runner;
  }

  abstract tryAcquire(waitMs: number): Promise<boolean>;
  abstract holder(): Promise<string | undefined>;
  /** Releases the lock on its connection. */
  protected abstract unlock(runner: QueryRunner): Promise<void>;
  /** Closes the connection for good instead of returning it to the pool. */
  protected abstract destroy(runner: QueryRunner, error: unknown): Promise<void>;
  /** Prepares a freshly opened connection. */
  protected async prepare(_runner: QueryRunner): Promise<void> {}

  async release(): Promise<void> {
    const runner = this.runner;
    this.runner = undefined;
    if (!runner) return;
    try {
      await this.unlock(runner);
      await runner.release();
    } catch (error) {
      await this.destroy(runner, error).catch(() => undefined);
      throw error;
    }
  }

  /** The lock's connection, opened on first use. */
  protected async connection(): Promise<QueryRunner> {
    if (!this.runner) {
      const runner = this.dataSource.createQueryRunner('master');
      await runner.connect();
      this.runner = runner;
      await this.prepare(runner);
    }
    return this.runner;
  }
}
