import { MigrationLockError } from '../errors/migration-lock.error.js';
import { invariant } from '../errors/invariant.error.js';
import type { QueryRunner } from 'typeorm';
import type { LockCondition } from '../contracts/lock-contract.js';
import { DEFAULT_CONNECTION_CHECK_TIMEOUT_MS } from '../auto-migrator.constants.js';
import { MigrationInterruptedError } from '../errors/migration-interrupted.error.js';
import { MigrationLockTimeoutError } from '../errors/migration-lock-timeout.error.js';
import { acquireMigrationLock, LockNotTaken, type LockAcquisition } from '../lock/acquire-lock.js';
import type { MigrationLock } from '../lock/migration-lock.js';
import type { DataSourcePlan } from '../plan/migration-plan.js';
import { MigrationSession } from './migration-session.js';
import type { RunReporter } from './run-reporter.js';
import type { RunnerEnvironment } from './runner-environment.js';

/** Runs before each migration, inside its transaction: throws when it must not run. */
export type MigrationGuard = (migration: string, recordStart?: StartRecorder) => Promise<void>;

/**
 * Records that a migration starts (see StartedMarkers), carrying `lockHeld` when given: resolves
 * false when that condition did not hold and nothing was written.
 */
export type StartRecorder = (lockHeld: LockCondition | undefined) => Promise<boolean>;

/**
 * The migration session of one DataSource: a dedicated connection with the timeouts applied (on
 * SQLite, TypeORM's one shared connection), holding the plan's migration lock.
 */
export class LockedSession {
  /** A session holding the lock, taken before the strategy ran ({@link claim}): the next {@link run} uses it. */
  private claimed: { readonly session: MigrationSession | undefined; readonly lock: MigrationLock } | undefined;

  constructor(
    private readonly plan: DataSourcePlan,
    private readonly env: RunnerEnvironment,
    private readonly failures: RunReporter,
    private readonly ensureInitialized: () => Promise<void>,
  ) {}

  /**
   * Runs `work` on the session, holding the lock. Releases both whatever happens; a connection
   * whose lock could not be released is closed rather than returned to the pool. With `noWait`
   * (the operation's name), a lock held elsewhere is not waited for: a
   * {@link MigrationLockTimeoutError} naming its holder, and the state is not touched.
   */
  async run<T>(
    work: (queryRunner: QueryRunner, beforeMigration: MigrationGuard, claimed: boolean) => Promise<T>,
    noWait?: string,
  ): Promise<T> {
    const claimed = this.claimed;
    this.claimed = undefined;
    const session = claimed ? claimed.session : await this.failures.connecting(() => this.open());
    let destroy = false;
    try {
      const lock = claimed ? claimed.lock : await this.acquire(session, noWait);
      // The tenants' summary: where the lock is this very session's (its unlock statement recounts
      // the tenant), its writes skip the summary's triggers (see tenants/tenant-summary.ts).
      const summary = lock?.releaseResetting && lock.heldBySession && session?.isServerSession ? this.plan.tenant?.summary : undefined;
      try {
        await session?.applyTimeouts(this.plan.timeouts);
        if (this.plan.tenant) {
          invariant(session, `${this.plan.label}: tenant migrations need a PostgreSQL session`);
          await session.useSchema(this.plan.tenant.name, this.plan.tenant.createSchema, summary?.writing);
        }
        this.env.control.setCanceller(session ? () => session.cancelStatement() : undefined);
        const beforeMigration = this.guard(lock, session);
        if (session) return await work(session.queryRunner, beforeMigration, claimed !== undefined);
        const shared = this.plan.dataSource.createQueryRunner();
        try {
          return await work(shared, beforeMigration, claimed !== undefined);
        } finally {
          await shared.release();
        }
      } finally {
        this.env.control.setCanceller(undefined);
        // The session's settings go back with the lock where it can (one statement, not two).
        const resets = session?.settingsToReset() ?? [];
        const released =
          lock?.releaseResetting && session && (resets.length > 0 || summary)
            ? lock.releaseResetting(resets, summary?.written).then(() => session.settingsWereReset())
            : lock?.release();
        await released?.catch((error: unknown) => {
          destroy = true;
          this.env.logger.error(
            `${this.plan.label}: releasing ${lock?.description} failed (${this.env.redactor.message(error)}); closing its connection, which releases a lock held by it`,
          );
        });
      }
    } finally {
      await session?.close(destroy);
    }
  }

  /**
   * Takes the lock without waiting, on a session kept for the next {@link run}. 'held elsewhere'
   * when another process holds it; anything going wrong here is left for that run to meet (and
   * report) again.
   */
  async claim(): Promise<'claimed' | 'held elsewhere' | 'not claimed'> {
    let session: MigrationSession | undefined;
    try {
      session = await this.open();
      this.claimed = { session, lock: await acquireMigrationLock(session, this.lockRequest(), 'a replica sharing the tenants') };
      return 'claimed';
    } catch (error) {
      await session?.close(false);
      return error instanceof MigrationLockTimeoutError ? 'held elsewhere' : 'not claimed';
    }
  }

  /** The connection of the claim not used yet (see {@link claim}), where the lock is held by a session. */
  get claimedRunner(): QueryRunner | undefined {
    return this.claimed?.session?.queryRunner;
  }

  /** A claim no run used (the strategy returned or threw before running): let go of it. */
  async releaseClaim(): Promise<void> {
    const claimed = this.claimed;
    this.claimed = undefined;
    if (!claimed) return;
    const released = await claimed.lock.release().then(
      () => true,
      () => false,
    );
    await claimed.session?.close(!released);
  }

  private async open(): Promise<MigrationSession | undefined> {
    await this.ensureInitialized();
    return MigrationSession.open(this.plan.dataSource, this.plan.connectionCheck, this.plan.tenant !== undefined);
  }

  /** Takes the plan's lock, waiting up to its timeout and telling who holds it; undefined when the plan has none. */
  private async acquire(session: MigrationSession | undefined, noWait?: string): Promise<MigrationLock | undefined> {
    if (!this.plan.lock) return undefined;
    try {
      return await acquireMigrationLock(session, this.lockRequest(), noWait);
    } catch (error) {
      // An operation that does not wait leaves the state alone: the lock is some run's, not a failure.
      if (error instanceof MigrationLockTimeoutError) throw noWait !== undefined ? error : this.failures.fail({ error });
      if (!(error instanceof LockNotTaken)) throw error;
      if (error.cause instanceof MigrationInterruptedError) throw error.cause;
      this.env.redactor.scrub(error.cause);
      const message = `${this.plan.label}: could not take ${error.lock}: ${this.failures.describe(error.cause)}`;
      const failure = this.failures.failedError(message, undefined, [], error.cause);
      throw this.failures.fail({ error: failure, stack: failure.stack });
    }
  }

  private lockRequest(): LockAcquisition {
    const lock = this.plan.lock!;
    const name = this.plan.name;
    return {
      ...lock,
      dataSource: this.plan.dataSource,
      label: this.plan.label,
      name,
      connection: { answerWithinMs: this.plan.connectionCheck?.timeoutMs ?? DEFAULT_CONNECTION_CHECK_TIMEOUT_MS },
      throwIfStopped: () => this.failures.throwIfStopped(),
      waiting: (taken, holder, waitedMs) =>
        this.failures.report({
          type: 'lock-waiting',
          dataSource: name,
          holder,
          waitedMs,
          lock: taken.description,
          timeoutMs: lock.settings.timeoutMs,
        }),
      acquired: (taken, waitedMs) => this.failures.report({ type: 'lock-acquired', dataSource: name, waitedMs, lock: taken.description }),
    };
  }

  /**
   * Before each migration: the lock is still ours (asked again unless this connection is the
   * server session itself, which holds it until it ends), and the session's settings hold for its
   * transaction. A migration recorded as started carries the lock check in that statement where it can.
   */
  private guard(lock: MigrationLock | undefined, session: MigrationSession | undefined): MigrationGuard {
    const verifyEach = lock !== undefined && !(lock.heldBySession && session?.isServerSession);
    return async (migration, recordStart) => {
      const carried = verifyEach && recordStart ? lock.heldCondition : undefined;
      if (verifyEach && !carried) await lock.verify();
      await session?.prepareTransaction(migration);
      if (recordStart && !(await recordStart(carried))) {
        await lock!.verify();
        throw new MigrationLockError(`${this.plan.label}: "${migration}" could not be recorded as started`);
      }
    };
  }
}
