import type { Reporter, TestModule } from 'vitest/node';

const DATABASES = ['postgres', 'mariadb', 'sqlite'] as const;

/**
 * Prints the closing line "N passed, N failed, N skipped" that CI reads, after one line per
 * database (tests whose suite runs "on postgres", "on mariadb", "on sqlite") and the stack the
 * suite ran on (AUTO_MIGRATOR_STACK, set by test/stacks/run-stack.mjs; else this repository's own).
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const perDatabase = new Map<string, typeof counts>(DATABASES.map((name) => [name, { passed: 0, failed: 0, skipped: 0 }]));
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        const outcome = state === 'passed' ? 'passed' : state === 'failed' ? 'failed' : 'skipped';
        counts[outcome]++;
        const database = DATABASES.find((name) => test.fullName.includes(` on ${name}`));
        if (database) perDatabase.get(database)![outcome]++;
      }
    }
    const stack = process.env['AUTO_MIGRATOR_STACK'] ?? 'repository stack';
    for (const [database, c] of perDatabase) {
      process.stdout.write(`\n[${stack}] ${database}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
    }
    process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}
