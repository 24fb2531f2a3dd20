#!/usr/bin/env node
// The auto-migrator command: see `auto-migrator --help`.
import 'reflect-metadata';
import { closeOpenShadows } from '../check/index.js';
import { runCli } from './run-cli.js';

/** Ctrl-C (or the Job's SIGTERM) during plan or check: the shadow is closed first, then the process ends. */
let interrupted: { code: number; closing: Promise<void> } | undefined;

async function exit(code: number): Promise<never> {
  // Once what was written has been flushed, the process ends with the command's code.
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write('', resolve))));
  process.exit(code);
}

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    // The temporary shadow database is dropped (a URL's database emptied) before the process ends,
    // with the code a shell gives a signal's death; the command, cut short, ends with it too.
    interrupted ??= { code, closing: closeOpenShadows() };
    void interrupted.closing.then(() => exit(code));
  });
}

void runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderrIsTerminal: process.stderr.isTTY === true,
}).then(async (code) => {
  // The CLI owns its process: an application that failed to boot (or a migration) may have left
  // handles open (its pools, timers, clients) that would keep a release Job running until its
  // deadline: it exits rather than waiting for them.
  if (interrupted) {
    await interrupted.closing;
    return exit(interrupted.code);
  }
  return exit(code);
});
