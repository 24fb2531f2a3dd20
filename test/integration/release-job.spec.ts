import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeEachDatabase, type DatabaseFixture } from '../support/database-suite.js';
import { startNode } from '../support/processes.js';
import { waitFor } from '../support/test-app.js';

const RELEASE_JOB = join(import.meta.dirname, '../fixtures/release-job.mjs');
/** Booting Nest in a spawned process on a busy machine. */
const BOOT_DEADLINE_MS = 90_000;
/** How long the process may go on after its bootstrap settled: the bug was 11 s (pg) or forever (MariaDB). */
const EXIT_WITHIN_MS = 5_000;
/** After this, a process still running is killed and the test fails. */
const GIVE_UP_MS = 20_000;

interface JobEnd {
  /** The exit code, or 'still running' when it had to be killed. */
  exit: number | NodeJS.Signals | 'still running';
  /** What bootstrap came to: MIGRATED, or the error's name. */
  outcome: string;
  /** From bootstrap settling (in the process) to the process's exit. */
  lingeredMs: number;
  output: string;
}

/** Runs the release-Job fixture to its end; kills it when it has not ended GIVE_UP_MS after bootstrap settled. */
async function runJob(t: DatabaseFixture, env: Record<string, string>): Promise<JobEnd> {
  const job = startNode(RELEASE_JOB, { DB_KIND: t.kind, DB_URL: t.db.url, ...env });
  const exitedAt = job.exited.then((exit) => ({ exit, at: Date.now() }));
  const settled = await waitFor(
    () =>
      /SETTLED_AT (\d+) (\w+)/.exec(job.output()) ?? (job.child.exitCode !== null || job.child.signalCode !== null ? 'exited' : undefined),
    BOOT_DEADLINE_MS,
    'the release Job to settle',
  );
  if (settled === 'exited') throw new Error(`the release Job ended before bootstrap settled:\n${job.output()}`);
  const settledAt = Number(settled[1]);
  let deadline: NodeJS.Timeout | undefined;
  const end = await Promise.race([
    exitedAt,
    new Promise<'still running'>((resolve) => (deadline = setTimeout(() => resolve('still running'), GIVE_UP_MS))),
  ]);
  clearTimeout(deadline);
  if (end === 'still running') {
    job.child.kill('SIGKILL');
    await job.exited;
    return { exit: 'still running', outcome: settled[2]!, lingeredMs: Date.now() - settledAt, output: job.output() };
  }
  return { exit: end.exit, outcome: settled[2]!, lingeredMs: end.at - settledAt, output: job.output() };
}

describeEachDatabase('a release Job (main without process.exit)', (t) => {
  it.each(['context', 'http', 'http-close'])(
    "shape '%s': a failed migration ends the process at once, exit code 1, the DataSource closed by the module",
    async (shape) => {
      const job = await runJob(t, { SHAPE: shape, FAIL: '1' });
      console.info(`[${t.kind}] release Job '${shape}', failed migration: exit ${job.exit} ${job.lingeredMs} ms after bootstrap settled`);
      expect(job.outcome, job.output).toBe('MigrationFailedError');
      expect(job.exit, job.output).toBe(1);
      expect(job.lingeredMs, job.output).toBeLessThan(EXIT_WITHIN_MS);
      expect(job.output).toContain('Bootstrap failed: closed DataSource "default" so that the process can exit');
      expect(job.output).not.toMatch(/Failed to close the "default" data source|DataSource is not initialized|Unhandled/);
      expect(await t.db.recorded()).toEqual(['CreateItems1700000000001']);
    },
    BOOT_DEADLINE_MS + GIVE_UP_MS + 30_000,
  );

  it(
    "shape 'context': a successful run exits 0 at once",
    async () => {
      const job = await runJob(t, { SHAPE: 'context' });
      console.info(`[${t.kind}] release Job 'context', success: exit ${job.exit} ${job.lingeredMs} ms after bootstrap settled`);
      expect(job.outcome, job.output).toBe('MIGRATED');
      expect(job.exit, job.output).toBe(0);
      expect(job.lingeredMs, job.output).toBeLessThan(EXIT_WITHIN_MS);
      expect(job.output).not.toContain('Bootstrap failed');
    },
    BOOT_DEADLINE_MS + GIVE_UP_MS + 30_000,
  );
});
