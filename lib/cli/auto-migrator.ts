#!/usr/bin/env node
// The auto-migrator command: see `auto-migrator --help`.
import 'reflect-metadata';
import { runCli } from './run-cli.js';

void runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderrIsTerminal: process.stderr.isTTY === true,
}).then(async (code) => {
  // The CLI owns its process: an application that failed to boot (or a migration) may have left
  // handles open (its pools, timers, clients) that would keep a release Job running until its
  // deadline. Once what was written has been flushed, the process ends with the command's code.
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write('', resolve))));
  process.exit(code);
});
