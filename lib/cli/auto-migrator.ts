#!/usr/bin/env node
// The auto-migrator command: see `auto-migrator --help`.
import 'reflect-metadata';
import { runCli } from './run-cli.js';

void runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}).then((code) => {
  process.exitCode = code;
});
