// Consumer tests: the package as a new user gets it. `npm pack` (the built dist), then fresh apps
// outside the repository install it with a plain `npm install` (no flags) and run their own tests
// against a real PostgreSQL database; one more installs it as a git dependency (prepare builds it).
// Needs the npm registry: skipped with the reason printed when it is unreachable, except under
// CI=true, where they are mandatory.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const root = join(import.meta.dirname, '../..');
const CI = /^(1|true|yes)$/i.test(process.env['CI'] ?? '');
const MINUTE = 60_000;
// eslint-disable-next-line no-control-regex -- escape codes are control characters
const ANSI_COLOURS = /\x1b\[[0-9;]*m/g;

interface Run {
  code: number;
  /** stdout and stderr, for failure messages. */
  output: string;
  stdout: string;
  ms: number;
}

/** Runs a command; never rejects on a non-zero exit (the caller asserts, with the output). */
function run(
  command: string,
  args: readonly string[],
  cwd: string,
  env: Record<string, string | undefined> = {},
  timeoutMs = 10 * MINUTE,
): Promise<Run> {
  const started = Date.now();
  // A variable given as undefined is removed from the child's environment.
  const childEnv = Object.fromEntries(
    Object.entries({ ...cleanEnv(), NO_COLOR: '1', FORCE_COLOR: '0', ...env }).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  );
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: childEnv, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      const output = `${stdout}${stderr}${error && code === -1 ? `\n${error.message}` : ''}`.replace(ANSI_COLOURS, '');
      resolve({ code, output, stdout, ms: Date.now() - started });
    });
  });
}

/**
 * This process's environment without what `npm test` and Vitest put there: npm's lifecycle
 * variables (npm_config_local_prefix and npm_config_prefix would point a nested npm at this
 * repository) and VITEST_* (would confuse the consumer's Vitest). A registry or proxy set in the
 * environment (npm_config_registry, …) stays.
 */
function cleanEnv(): Record<string, string> {
  const lifecycle =
    /^(npm_lifecycle_|npm_package_|npm_command$|npm_execpath$|npm_node_execpath$|npm_config_(local_|global_)?prefix$|INIT_CWD$|VITEST|NODE_ENV$)/;
  return Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined && !lifecycle.test(entry[0])),
  );
}

async function registryProblem(): Promise<string | undefined> {
  const ping = await run('npm', ['ping', '--fetch-retries=1', '--fetch-timeout=15000'], tmpdir(), {}, 40_000);
  return ping.code === 0
    ? undefined
    : `npm ping failed (exit ${ping.code}): ${ping.output
        .split('\n')
        .filter((line) => /error/i.test(line))
        .slice(0, 2)
        .join(' ')}`;
}

const problem = await registryProblem();
if (problem !== undefined && !CI) console.warn(`[consumer tests] skipped: the npm registry is unreachable (${problem}).`);

/** Copies a directory's files and subdirectories (an app's src/, test/), leaving out package.template.json. */
async function copyTree(source: string, target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  for (const entry of await readdir(source, { withFileTypes: true })) {
    if (entry.isDirectory()) await copyTree(join(source, entry.name), join(target, entry.name));
    else if (entry.name !== 'package.template.json') await copyFile(join(source, entry.name), join(target, entry.name));
  }
}

/** A consumer app from test/consumers/<name>: its files (with subdirectories), shared/widgets.cjs, and package.json from the template. */
async function createApp(work: string, name: string, library: string, typeorm: string): Promise<string> {
  const source = join(import.meta.dirname, name);
  const dir = join(work, name);
  await copyTree(source, dir);
  await copyFile(join(import.meta.dirname, 'shared/widgets.cjs'), join(dir, 'widgets.cjs'));
  const template = await readFile(join(source, 'package.template.json'), 'utf8');
  await writeFile(join(dir, 'package.json'), template.replace('__LIBRARY__', library).replace('__TYPEORM__', typeorm));
  return dir;
}

/** `npm install`, plain, as a user would run it; fails the test with npm's output when it fails. */
async function install(dir: string): Promise<Run> {
  const result = await run('npm', ['install'], dir);
  if (result.code !== 0) throw new Error(`npm install in ${dir} failed (exit ${result.code}):\n${result.output}`);
  if (!existsSync(join(dir, 'node_modules/nestjs-auto-migrator/dist/index.js'))) {
    throw new Error(`npm install in ${dir} gave a package without dist/index.js:\n${result.output}`);
  }
  return result;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

describe.skipIf(problem !== undefined && !CI)('consumer apps installing the packed package (plain npm install)', () => {
  let work = '';
  let installs: Record<'jest' | 'vitest' | 'git' | 'app', Promise<Run>>;
  const databases: TestDatabase[] = [];

  beforeAll(async () => {
    if (problem !== undefined) throw new Error(`CI=true: the consumer tests are mandatory, but ${problem}`);
    if (!existsSync(join(root, 'dist/index.js'))) throw new Error('dist/ is not built: run `npm run build:lib` (npm test does).');
    work = await mkdtemp(join(tmpdir(), 'am-consumers-'));

    // The tarball a registry install would get (dist as `npm test` built it).
    const pack = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--json'], root);
    expect(pack.code, pack.output).toBe(0);
    const [{ filename }] = JSON.parse(pack.stdout) as [{ filename: string }];
    const tarball = `file:${join(work, filename)}`;

    // The git dependency: a clone of this repository at HEAD (committed work only).
    const head = (await run('git', ['rev-parse', 'HEAD'], root)).stdout.trim();
    const clone = await run('git', ['clone', '--quiet', root, join(work, 'repo')], work);
    expect(clone.code, clone.output).toBe(0);
    const status = (await run('git', ['status', '--porcelain'], root)).stdout.trim();
    if (status !== '') console.warn(`[consumer tests] the git-dependency app installs commit ${head}; uncommitted changes are not in it.`);

    // Installs run side by side (the registry and the git clone's devDependencies are the slow part).
    installs = {
      jest: createApp(work, 'cjs-nest11-jest', tarball, '0.3.11').then(install),
      vitest: createApp(work, 'esm-nest12-vitest', tarball, '0.3.31').then(install),
      git: createApp(work, 'cjs-nest12-git', `git+file://${join(work, 'repo')}#${head}`, '^1.1.0').then(install),
      app: createApp(work, 'cjs-nest11-app', tarball, '0.3.28').then(install),
    };
    for (const pending of Object.values(installs)) pending.catch(() => undefined); // each test reports its own
  }, 5 * MINUTE);

  afterAll(async () => {
    await Promise.allSettled(Object.values(installs ?? {}));
    for (const db of databases) await db.drop();
    if (work !== '') await rm(work, { recursive: true, force: true });
  }, 5 * MINUTE);

  async function database(): Promise<TestDatabase> {
    const db = await createTestDatabase('postgres');
    databases.push(db);
    return db;
  }

  /**
   * The installed CLI's `status --json` on that database: the one migration applied, nothing pending.
   * DATABASE_URL is the database's unless `env` says otherwise (`DATABASE_URL: undefined` unsets it);
   * `args` go before `--json` (`--env-file .env`).
   */
  async function expectCliStatusMigrated(
    dir: string,
    dataSourceFile: string,
    db: TestDatabase,
    { env = {}, args = [] }: { env?: Record<string, string | undefined>; args?: readonly string[] } = {},
  ): Promise<Run> {
    const cli = await run(
      process.execPath,
      ['node_modules/.bin/auto-migrator', 'status', '--data-source', dataSourceFile, ...args, '--json'],
      dir,
      { DATABASE_URL: db.url, ...env },
    );
    expect(cli.code, cli.output).toBe(0);
    const report = JSON.parse(cli.stdout) as { dataSources: { applied: { name: string }[]; pending: unknown[] }[] };
    expect(report.dataSources.map((ds) => [ds.applied.map((m) => m.name), ds.pending])).toEqual([[['CreateWidgets1700000000000'], []]]);
    return cli;
  }

  it(
    'CommonJS, Nest 11.2, TypeORM 0.3.11 (the floor) then 0.3.31, Jest: the spec importing the library passes; the CLI reads the result',
    async () => {
      const installed = await installs.jest;
      const dir = join(work, 'cjs-nest11-jest');
      const db = await database();
      const jest = await run('npm', ['test'], dir, { DATABASE_URL: db.url });
      expect(jest.code, jest.output).toBe(0);
      expect(jest.output).toMatch(/Tests:\s+1 passed, 1 total/);
      expect(jest.output).toMatch(/CONSUMER typeorm 0\.3\.11, @nestjs\/core 11\.2\.\d+/);

      const cli = await expectCliStatusMigrated(dir, 'data-source.js', db);

      // The same app after `npm install typeorm@0.3.31` (the last 0.3), on a fresh database.
      const upgrade = await run('npm', ['install', 'typeorm@0.3.31'], dir);
      expect(upgrade.code, upgrade.output).toBe(0);
      const latest = await run('npm', ['test'], dir, { DATABASE_URL: (await database()).url });
      expect(latest.code, latest.output).toBe(0);
      expect(latest.output).toMatch(/CONSUMER typeorm 0\.3\.31, @nestjs\/core 11\.2\.\d+/);
      console.log(
        `[consumer tests] cjs-nest11-jest: install ${seconds(installed.ms)}, jest ${seconds(jest.ms)}, cli ${seconds(cli.ms)}; ` +
          `typeorm 0.3.31: install ${seconds(upgrade.ms)}, jest ${seconds(latest.ms)}`,
      );
    },
    15 * MINUTE,
  );

  it(
    'ESM, Nest 12, TypeORM 0.3.31, Vitest, without @nestjs/terminus and @nestjs/config: the spec passes',
    async () => {
      const installed = await installs.vitest;
      const dir = join(work, 'esm-nest12-vitest');
      const db = await database();
      const vitest = await run('npm', ['test'], dir, { DATABASE_URL: db.url });
      expect(vitest.code, vitest.output).toBe(0);
      expect(vitest.output).toMatch(/Tests\s+\S*3 passed/);
      expect(vitest.output).toMatch(/CONSUMER typeorm 0\.3\.31, @nestjs\/core 12\.\d+\.\d+/);
      console.log(`[consumer tests] esm-nest12-vitest: install ${seconds(installed.ms)}, vitest ${seconds(vitest.ms)}`);
    },
    15 * MINUTE,
  );

  it(
    'git dependency (prepare builds dist), CommonJS, Nest 12, TypeORM 1.x: boots, migrates, one copy for require and import; the CLI loads an ESM data source',
    async () => {
      const installed = await installs.git;
      const dir = join(work, 'cjs-nest12-git');
      const db = await database();
      const app = await run(process.execPath, ['main.js'], dir, { DATABASE_URL: db.url });
      expect(app.code, app.output).toBe(0);
      expect(JSON.parse(app.stdout.trim().split('\n').at(-1)!)).toEqual({
        tables: ['migrations', 'migrations_checksums', 'widgets'],
        recorded: ['CreateWidgets1700000000000'],
        health: 'up',
        sameClasses: true,
        typeorm: expect.stringMatching(/^1\./),
        nest: expect.stringMatching(/^12\./),
      });

      const cli = await expectCliStatusMigrated(dir, 'data-source.mjs', db);
      console.log(
        `[consumer tests] cjs-nest12-git: install (clone + prepare) ${seconds(installed.ms)}, app ${seconds(app.ms)}, cli ${seconds(cli.ms)}`,
      );
    },
    15 * MINUTE,
  );

  it(
    'a TypeScript CommonJS Nest 11 app (feature HealthModule, global AutoMigratorModule, Jest + ts-jest): e2e spec passes; the CLI reads its .ts data source through ts-node and tsx, with no set-up at all (its own ts-node), and the compiled one, with --env-file; entities under tsx: the missing decorator metadata named',
    async () => {
      const installed = await installs.app;
      const dir = join(work, 'cjs-nest11-app');
      const db = await database();
      await writeFile(join(dir, '.env'), `DATABASE_URL=${db.url}\n`);

      const jest = await run('npm', ['test'], dir, { DATABASE_URL: db.url, RUN_MIGRATIONS: 'true' });
      expect(jest.code, jest.output).toBe(0);
      expect(jest.output).toMatch(/Tests:\s+2 passed, 2 total/);
      expect(jest.output).toMatch(/CONSUMER typeorm 0\.3\.28, @nestjs\/core 11\.2\.\d+/);

      // The CLI finds the database only through --env-file: DATABASE_URL is not in its environment.
      const fromEnvFile = { DATABASE_URL: undefined, RUN_MIGRATIONS: undefined };
      const args = ['--env-file', '.env'];
      const tsNode = await expectCliStatusMigrated(dir, 'src/database/data-source.ts', db, {
        env: { ...fromEnvFile, NODE_OPTIONS: '--require ts-node/register' },
        args,
      });
      // Without --env-file: the unset variable is named (through ts-node's source-mapped frames too).
      const unset = await run(
        process.execPath,
        ['node_modules/.bin/auto-migrator', 'status', '--data-source', 'src/database/data-source.ts'],
        dir,
        {
          ...fromEnvFile,
          NODE_OPTIONS: '--require ts-node/register',
        },
      );
      expect(unset.code, unset.output).toBe(1);
      expect(unset.output).toContain('read DATABASE_URL from the environment, unset here');
      const tsx = await expectCliStatusMigrated(dir, 'src/database/data-source.ts', db, {
        env: { ...fromEnvFile, NODE_OPTIONS: '--import tsx' },
        args,
      });
      // No loader set up (no NODE_OPTIONS): the CLI uses the app's own ts-node, transpile-only, with its tsconfig's
      // decorator metadata; tsx emits none, and the error says so rather than "could not connect".
      const noSetUp = await expectCliStatusMigrated(dir, 'src/database/entities-data-source.ts', db, {
        env: { ...fromEnvFile, NODE_OPTIONS: undefined },
        args,
      });
      const tsxEntities = await run(
        process.execPath,
        ['node_modules/.bin/auto-migrator', 'status', '--data-source', 'src/database/entities-data-source.ts', ...args],
        dir,
        { ...fromEnvFile, NODE_OPTIONS: '--import tsx' },
      );
      expect(tsxEntities.code, tsxEntities.output).toBe(2);
      expect(tsxEntities.output).toMatch(/TypeORM found no type for Widget#\w+ .*without decorator metadata/);
      expect(tsxEntities.output).not.toMatch(/could not connect/);

      const build = await run('npx', ['tsc', '-p', 'tsconfig.json'], dir);
      expect(build.code, build.output).toBe(0);
      expect(existsSync(join(dir, 'dist/database/data-source.js')), 'tsc wrote dist/database/data-source.js').toBe(true);
      const compiled = await expectCliStatusMigrated(dir, 'dist/database/data-source.js', db, { env: fromEnvFile, args });
      console.log(
        `[consumer tests] cjs-nest11-app: install ${seconds(installed.ms)}, jest ${seconds(jest.ms)}, ` +
          `cli ts-node ${seconds(tsNode.ms)}, cli tsx ${seconds(tsx.ms)}, cli with no set-up ${seconds(noSetUp.ms)}, ` +
          `tsc ${seconds(build.ms)}, cli dist ${seconds(compiled.ms)}`,
      );
    },
    15 * MINUTE,
  );
});
