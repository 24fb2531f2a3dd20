#!/usr/bin/env node
// Runs the whole test suite (unit and integration, not the consumer tests) again on another stack
// of Nest and TypeORM: `node test/stacks/run-stack.mjs test/stacks/oldest.json`.
//
// The stack gets a copy of the repository in $TMPDIR/nestjs-auto-migrator-stacks/<name>/: the sources are
// copied, not linked, because Node resolves a package from a file's real path, and a link would
// load this checkout's node_modules. Its node_modules start as hard links of ours (the tools:
// TypeScript, Vitest, the drivers), then npm installs the stack's versions over them, which
// replaces those packages' files rather than writing into them. The run then builds, typechecks
// and runs Vitest there, and checks that the stack's versions are the ones loaded.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const stackFile = resolve(process.argv[2] ?? join(root, 'test/stacks/oldest.json'));
const stack = JSON.parse(readFileSync(stackFile, 'utf8'));
// Outside the repository: module resolution climbing up from inside it would reach our node_modules.
const dir = join(process.env['AUTO_MIGRATOR_STACKS_DIR'] ?? join(tmpdir(), 'nestjs-auto-migrator-stacks'), stack.name);
const vitestArgs = process.argv.slice(3);

function step(title, command, args, options = {}) {
  console.log(`\n[stack ${stack.name}] ${title}: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: dir, stdio: 'inherit', ...options });
  if (result.status !== 0) {
    console.error(`[stack ${stack.name}] ${title} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status || 1);
  }
}

// A fresh copy of the sources; node_modules kept between runs (npm brings it to the stack's versions).
mkdirSync(dir, { recursive: true });
for (const entry of ['lib', 'test', 'sample-app', 'bench', 'docs']) rmSync(join(dir, entry), { recursive: true, force: true });
for (const entry of [
  'lib',
  'test',
  'sample-app/src',
  'sample-app/tsconfig.json',
  'bench',
  'tsconfig.json',
  'tsconfig.build.json',
  'vitest.config.ts',
  'nest-cli.json',
  'package-lock.json',
  '.ci',
  'README.md',
  'docs',
  'LICENSE',
]) {
  if (existsSync(join(root, entry)))
    cpSync(join(root, entry), join(dir, entry), { recursive: true, filter: (source) => !source.includes('/test/consumers/') });
}
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
manifest.devDependencies = { ...manifest.devDependencies, ...stack.versions };
writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
if (!existsSync(join(dir, 'node_modules'))) {
  // Hard links where the file system allows them, a copy elsewhere.
  try {
    execFileSync('cp', ['-al', join(root, 'node_modules'), join(dir, 'node_modules')], { stdio: 'ignore' });
  } catch {
    rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
    execFileSync('cp', ['-a', join(root, 'node_modules'), join(dir, 'node_modules')]);
  }
}

// Older releases peer on older drivers (typeorm 0.3.0: better-sqlite3 ^7, mysql2 ^2): the drivers
// stay the ones our suite uses (--force: installed although those peer ranges say otherwise).
step('install the stack', 'npm', ['install', '--no-audit', '--no-fund', '--force', '--ignore-scripts']);

const loaded = Object.fromEntries(
  Object.keys(stack.versions).map((name) => [
    name,
    JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version,
  ]),
);
const wrong = Object.entries(stack.versions).filter(([name, version]) => loaded[name] !== version);
if (wrong.length > 0) {
  console.error(
    `[stack ${stack.name}] the installed versions are not the stack's: ${wrong.map(([name, version]) => `${name} ${loaded[name]} (wanted ${version})`).join(', ')}`,
  );
  process.exit(1);
}
console.log(
  `[stack ${stack.name}] loads ${Object.entries(loaded)
    .map(([name, version]) => `${name}@${version}`)
    .join(', ')}`,
);

step('build', 'npm', ['run', 'build']);
step('typecheck', 'npm', ['run', 'typecheck']);
step('tests', 'npx', ['vitest', 'run', '--exclude', 'test/consumers/**', ...vitestArgs], {
  env: { ...process.env, AUTO_MIGRATOR_STACK: stack.name },
});
