import type { DataSource } from 'typeorm';
import { MigrationLockTimeoutError } from '../errors/migration-lock-timeout.error.js';
import type { ResolvedLockOptions } from '../options/auto-migrator-options.interface.js';
import { seconds } from '../util/quantities.js';
import { createMigrationLock, type LockConnectionSettings, type LockSession } from './create-migration-lock.js';
import type { MigrationLock } from './migration-lock.js';
import type { MigrationLockKind } from '../contracts/lock-contract.js';

/** The longest one wait for the migration lock lasts before the stop flag is looked at again. */
const LOCK_WAIT_SLICE_MS = 1_000;

/** What taking the lock needs to know about who takes it, and what it tells while it waits. */
export interface LockAcquisition {
  readonly kind: MigrationLockKind;
  readonly settings: ResolvedLockOptions;
  readonly dataSource: DataSource;
  /** How errors name what is migrated (`DataSource "x"`), and its state key. */
  readonly label: string;
  readonly name: string;
  readonly connection: LockConnectionSettings;
  /** Throws when the run was stopped (shutdown): looked at between waits. */
  readonly throwIfStopped: () => void;
  /** Once per `logEveryMs` while waiting: who holds it, for how long it waited. */
  readonly waiting: (lock: MigrationLock, holder: string | undefined, waitedMs: number) => void;
  readonly acquired: (lock: MigrationLock, waitedMs: number) => void;
}

/**
 * Takes the migration lock, waiting up to its timeout. With `noWait` (an operation's name), a lock
 * held elsewhere is not waited for. Throws {@link MigrationLockTimeoutError} naming the holder
 * when it gives up; any other error (taking it failed) comes as {@link LockNotTaken}. A lock half
 * taken is released before either.
 */
export async function acquireMigrationLock(
  session: LockSession | undefined,
  request: LockAcquisition,
  noWait?: string,
): Promise<MigrationLock> {
  const { timeoutMs, logEveryMs } = request.settings;
  const since = Date.now();
  let holder: string | undefined;
  let lock: MigrationLock | undefined;
  try {
    lock = await createMigrationLock(request.kind, request.settings.mode, request.dataSource, session, request.connection);
    if (await lock.tryAcquire(0)) return lock;
    if (noWait !== undefined) {
      holder = (await lock.holder().catch(() => undefined)) ?? 'another process';
    } else {
      let nextLog = since;
      for (;;) {
        request.throwIfStopped();
        const waited = Date.now() - since;
        if (waited >= timeoutMs) break;
        if (Date.now() >= nextLog) {
          holder = (await lock.holder().catch(() => undefined)) ?? holder;
          request.waiting(lock, holder, waited);
          nextLog = Date.now() + logEveryMs;
        }
        if (await lock.tryAcquire(Math.min(LOCK_WAIT_SLICE_MS, logEveryMs, timeoutMs - waited))) {
          request.acquired(lock, Date.now() - since);
          return lock;
        }
      }
    }
  } catch (error) {
    await lock?.release().catch(() => undefined);
    throw new LockNotTaken(lock?.description ?? 'the migration lock', error);
  }
  await lock.release().catch(() => undefined);
  if (noWait !== undefined) {
    throw new MigrationLockTimeoutError(
      `${request.label}: ${lock.description} is held by ${holder}: a migration run is in progress, and ${noWait} does not wait for it. ` +
        `Nothing was changed; run it again once that run has ended.`,
      request.name,
      0,
      holder,
    );
  }
  const waitedMs = Date.now() - since;
  throw new MigrationLockTimeoutError(
    `${request.label}: gave up waiting for ${lock.description} after ${seconds(waitedMs)} (lock.timeoutMs ${timeoutMs}); ` +
      `held by ${holder ?? 'another process'}. If no migration is running there, that process is stuck: stop it, and the database releases the lock.`,
    request.name,
    waitedMs,
    holder,
  );
}

/** Taking the lock failed (not a timeout); `cause` is why, `lock` how the lock is named. */
export class LockNotTaken {
  constructor(
    readonly lock: string,
    readonly cause: unknown,
  ) {}
}
