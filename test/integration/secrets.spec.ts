import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect, stripVTControlCharacters } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ContinueOnFailureStrategy, FailFastStrategy, MigrationStrategy, type MigrationContext } from '../../lib/index.js';
import { describeEachDatabase } from '../support/database-suite.js';
import {
  createMariadbLoginUser,
  createPostgresLoginRole,
  createTestDatabase,
  postgresAdminQuery,
  type TestDatabase,
} from '../support/databases.js';
import { CreateUsers, defineMigration } from '../support/migrations.js';
import { startNode } from '../support/processes.js';
import { bootApp, type TestApp } from '../support/test-app.js';

// Each test logs in as its own role whose password is this: the URLs below really connect.
const PASSWORD = 'Sup3r-S3cret-Pw';

class LeakyStrategy extends MigrationStrategy {
  async migrate(_context: MigrationContext): Promise<void> {
    throw new Error(`backup upload to s3://backup:${PASSWORD}@bucket failed`);
  }
}

class MarksFailedWithSecret extends MigrationStrategy {
  async migrate(context: MigrationContext): Promise<void> {
    context.markFailed(new Error(`restore needs password=${PASSWORD}`));
  }
}

describe('secrets never reach logs, errors or health output (postgres URL with a password)', () => {
  let db: TestDatabase;
  let url: string;
  let role: string;
  let login: Awaited<ReturnType<typeof createPostgresLoginRole>>;
  let app: TestApp | undefined;
  const consoleText: string[] = [];

  beforeEach(async () => {
    db = await createTestDatabase('postgres');
    login = await createPostgresLoginRole(db, PASSWORD);
    role = login.role;
    url = login.url;
    consoleText.length = 0;
    // TypeORM's own logger writes through console; keep what it writes.
    for (const method of ['log', 'info', 'warn', 'error'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        consoleText.push(args.map((arg) => (typeof arg === 'string' ? arg : inspect(arg))).join(' '));
      });
    }
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await app?.close();
    app = undefined;
    await db.drop();
    await login.drop();
  });

  /** A migration whose error message quotes the connection URL and the bare password. */
  const Leaky = defineMigration('Leaky1700000000020', async () => {
    throw new Error(`cannot copy from ${url} (password ${PASSWORD})`);
  });

  function expectClean(...texts: string[]) {
    for (const text of texts) expect(text).not.toContain(PASSWORD);
  }

  it('a failing migration: the thrown error (message, stack, cause, inspect), the logs and TypeORM console output', async () => {
    const error = await bootApp({
      dataSources: [{ db, migrations: [CreateUsers, Leaky], options: { url } }],
      migrator: { runMigrations: true, strategy: FailFastStrategy },
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toContain(`postgres://${role}:***@`);
    expectClean(error!.message, error!.stack ?? '', inspect(error, { depth: 10 }), consoleText.join('\n'));
    // The migration really ran against the password-bearing URL and the first one was applied.
    expect(await db.recorded()).toEqual(['CreateUsers1700000000001']);
    expect(consoleText.join('\n')).toContain('Migration "Leaky1700000000020" failed');
  });

  it('a failed DataSource in the health response over HTTP, and in the logs', async () => {
    app = await bootApp({
      dataSources: [{ db, migrations: [Leaky], options: { url } }],
      migrator: { runMigrations: true, strategy: ContinueOnFailureStrategy },
      listen: true,
    });
    const response = await fetch(`${app.url}/health/ready`);
    const body = await response.text();
    expect(response.status).toBe(503);
    expect(body).toContain('Leaky1700000000020');
    expectClean(body, app.logger.text(), consoleText.join('\n'));
  });

  it("a strategy's own error, and an error it passes to markFailed", async () => {
    const thrown = await bootApp({
      dataSources: [{ db, migrations: [CreateUsers], options: { url } }],
      migrator: { runMigrations: true, strategy: new LeakyStrategy() },
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(thrown?.message).toContain('s3://backup:***@bucket');
    expectClean(thrown!.message, inspect(thrown, { depth: 10 }));

    app = await bootApp({
      dataSources: [{ db, migrations: [CreateUsers], options: { url } }],
      migrator: { runMigrations: true, strategy: new MarksFailedWithSecret() },
      listen: true,
    });
    const body = await (await fetch(`${app.url}/health/ready`)).text();
    expect(body).toContain('password=***');
    expectClean(body, app.logger.text(), consoleText.join('\n'));
  });

  it('a password given as the DataSource "password" option is redacted wherever it appears', async () => {
    const WithBarePassword = defineMigration('Bare1700000000021', async () => {
      throw new Error(`vault returned ${PASSWORD} for the wrong role`);
    });
    const parsed = new URL(db.url);
    app = await bootApp({
      dataSources: [
        {
          db,
          migrations: [WithBarePassword],
          options: {
            url: undefined,
            host: parsed.hostname,
            port: Number(parsed.port),
            username: role,
            password: PASSWORD,
            database: db.name,
          } as never,
        },
      ],
      migrator: { runMigrations: true, strategy: ContinueOnFailureStrategy },
      listen: true,
    });
    const body = await (await fetch(`${app.url}/health/ready`)).text();
    expect(body).toContain('vault returned *** for the wrong role');
    expectClean(body, app.logger.text(), consoleText.join('\n'));
  });

  it('the CLI: a failing migration with the password in its error, on stdout, stderr and in --json', async () => {
    const root = join(import.meta.dirname, '../..');
    const env = { ...process.env, CLI_DB_KIND: 'postgres', CLI_DB_URL: url, CLI_FAIL_WITH_SECRET: '1' };
    for (const args of [['up'], ['up', '--json'], ['status', '--json']]) {
      const run = spawnSync(
        process.execPath,
        [join(root, 'dist/cli/auto-migrator.js'), ...args, '--data-source', join(root, 'test/fixtures/cli-data-source.mjs')],
        { env, encoding: 'utf8' },
      );
      expectClean(run.stdout, run.stderr);
      if (args[0] === 'up') {
        expect(run.status).toBe(1);
        expect(run.stderr).toContain(`postgres://${role}:***@`);
      }
    }
    expect(await db.recorded()).toEqual(['Alpha1700000000001', 'Beta1700000000002', 'Gamma1700000000003']);
  });
});

/**
 * TypeORM's own logger (not Nest's) prints failed queries with `logging: ['error']`, and every query
 * and its parameters with `true` / `'all'`, straight to the console. A real process's whole output
 * is the honest place to look.
 */
describeEachDatabase("secrets in SQL and parameters, through TypeORM's own logger", (t) => {
  const ROOT = join(import.meta.dirname, '../..');

  /**
   * A URL that logs in with PASSWORD (SQLite has none: the secret is a URL's credentials in the SQL).
   * On SQLite the statement fails when run, not when prepared: TypeORM 0.3 prepares outside the
   * block that logs a failed query, so a statement that cannot be prepared would not be printed.
   */
  async function login(): Promise<{ url: string; secretSql: string; failedQuery: string; secretParam: string; drop(): Promise<void> }> {
    if (t.kind === 'sqlite') {
      return {
        url: t.db.url,
        secretSql: `SELECT json('postgres://backup:${PASSWORD}@db/x') AS label`,
        failedQuery: 'query failed: SELECT json(',
        secretParam: `password=${PASSWORD}`,
        drop: async () => undefined,
      };
    }
    const failedQuery = 'query failed: INSERT INTO no_such_table';
    const secretSql = `INSERT INTO no_such_table (label) VALUES ('${PASSWORD}')`;
    if (t.kind === 'mariadb') {
      const user = await createMariadbLoginUser(t.db, PASSWORD);
      return { url: user.url, secretSql, failedQuery, secretParam: PASSWORD, drop: user.drop };
    }
    const role = await createPostgresLoginRole(t.db, PASSWORD);
    // The role owns the database and what the migrations created: hand them back before dropping it.
    const drop = async () => {
      await t.db.query(`REASSIGN OWNED BY ${role.role} TO CURRENT_USER; DROP OWNED BY ${role.role}`);
      await role.drop();
    };
    return { url: role.url, secretSql, failedQuery, secretParam: PASSWORD, drop };
  }

  it(
    'the password bound as a parameter of the failing statement: the printed error, logs, readiness, the CLI text and JSON',
    { timeout: 240_000 },
    async () => {
      const credentials = await login();
      try {
        // A statement that fails when run, with the secret as its bound parameter (not in its SQL).
        const failSql =
          t.kind === 'postgres'
            ? 'INSERT INTO no_such_table (label) VALUES ($1)'
            : t.kind === 'mariadb'
              ? 'INSERT INTO no_such_table (label) VALUES (?)'
              : 'SELECT json(?) AS label';
        const failParams = JSON.stringify([credentials.secretParam]);
        const failed = new RegExp(t.kind === 'sqlite' ? 'malformed JSON' : 'no_such_table');

        // A real process printing what bootstrap rejected with, as `main().catch(console.error)` does.
        const app = startNode(join(ROOT, 'test/fixtures/failing-app.mjs'), {
          DB_KIND: t.kind,
          DB_URL: credentials.url,
          FAIL_SQL: failSql,
          FAIL_PARAMS: failParams,
        });
        expect(await app.exited).toBe(1);
        const output = stripVTControlCharacters(app.output());
        expect(output).toMatch(failed);
        expect(output).toMatch(/parameters: \[/);
        expect(output).not.toContain(PASSWORD);

        // In process: the error as util.inspect prints it at any depth, and readiness over HTTP.
        const FailsWithParameter = defineMigration('BoundSecret1700000000022', async (queryRunner) => {
          await queryRunner.query(failSql, [credentials.secretParam]);
        });
        const source = { db: t.db, migrations: [FailsWithParameter], options: t.kind === 'sqlite' ? {} : { url: credentials.url } };
        const thrown = await bootApp({ dataSources: [source], migrator: { runMigrations: true } }).then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(thrown).toBeInstanceOf(Error);
        expect(inspect(thrown, { depth: Infinity })).toMatch(failed);
        expect(inspect(thrown)).not.toContain(PASSWORD);
        expect(inspect(thrown, { depth: Infinity })).not.toContain(PASSWORD);
        const served = t.track(
          await bootApp({ dataSources: [source], migrator: { runMigrations: true, strategy: ContinueOnFailureStrategy }, listen: true }),
        );
        const response = await fetch(`${served.url}/health/ready`);
        expect(response.status).toBe(503);
        const body = await response.text();
        expect(body).toContain('BoundSecret1700000000022');
        expect(body).not.toContain(PASSWORD);
        expect(served.logger.text()).toMatch(failed);
        expect(served.logger.text()).not.toContain(PASSWORD);
        await served.close();

        for (const args of [['up'], ['up', '--json']]) {
          const cli = spawnSync(
            process.execPath,
            [join(ROOT, 'dist/cli/auto-migrator.js'), ...args, '--data-source', join(ROOT, 'test/fixtures/cli-data-source.mjs')],
            {
              env: { ...process.env, CLI_DB_KIND: t.kind, CLI_DB_URL: credentials.url, CLI_FAIL_SQL: failSql, CLI_FAIL_PARAMS: failParams },
              encoding: 'utf8',
            },
          );
          expect(cli.status, cli.stderr).toBe(1);
          const cliOutput = stripVTControlCharacters(`${cli.stdout}${cli.stderr}`);
          expect(cliOutput).toMatch(failed);
          expect(cliOutput).not.toContain(PASSWORD);
        }
      } finally {
        await credentials.drop();
      }
    },
  );

  it.runIf(t.kind !== 'mariadb')(
    'plan, text and --json, with logging on: a password bound as a parameter is redacted, and stdout is the plan alone',
    { timeout: 240_000 },
    async () => {
      const credentials = await login();
      // plan creates no SQLite file: it must be there (empty, nothing applied).
      if (t.kind === 'sqlite' && !existsSync(t.db.url)) writeFileSync(t.db.url, '');
      // On PostgreSQL plan runs in a temporary shadow database, which the role creates.
      const role = t.kind === 'postgres' ? new URL(credentials.url).username : undefined;
      if (role) await postgresAdminQuery(`ALTER ROLE ${role} CREATEDB`);
      try {
        const env = {
          ...process.env,
          CLI_DB_KIND: t.kind,
          CLI_DB_URL: credentials.url,
          CLI_LOGGING: 'true',
          CLI_BIND_SECRET: credentials.secretParam,
        };
        const plan = (args: string[]) =>
          spawnSync(
            process.execPath,
            [join(ROOT, 'dist/cli/auto-migrator.js'), 'plan', ...args, '--data-source', join(ROOT, 'test/fixtures/cli-data-source.mjs')],
            {
              env,
              encoding: 'utf8',
            },
          );
        const text = plan([]);
        expect(text.status, text.stderr).toBe(0);
        const stdout = stripVTControlCharacters(text.stdout);
        expect(stdout).toMatch(/SELECT (\$1::text|\?) AS x; -- parameters: \["(password=)?\*\*\*"\]/);
        // TypeORM's query log (logging: true) really printed, on stderr: stdout holds the plan's lines only.
        expect(stripVTControlCharacters(text.stderr)).toContain('query:');
        for (const line of stdout.trim().split('\n')) expect(line).toMatch(/^(--|CREATE TABLE|SELECT)/);
        expect(`${stdout}${stripVTControlCharacters(text.stderr)}`).not.toContain(PASSWORD);

        const json = plan(['--json']);
        expect(json.status, json.stderr).toBe(0);
        const document = JSON.parse(json.stdout) as {
          dataSources: Array<{ migrations: Array<{ name: string; statements: Array<{ parameters?: unknown[] }> }> }>;
        };
        const bound = document.dataSources[0]!.migrations.find((migration) => migration.name === 'BindsSecret1700000000007');
        expect(bound?.statements[0]?.parameters).toEqual([t.kind === 'sqlite' ? 'password=***' : '***']);
        expect(`${json.stdout}${stripVTControlCharacters(json.stderr)}`).not.toContain(PASSWORD);
      } finally {
        await credentials.drop();
      }
    },
  );

  it.each([['["error"]'], ['true'], ['"all"']])(
    'logging %s: the app and the CLI print no secret',
    { timeout: 240_000 },
    async (logging) => {
      const credentials = await login();
      try {
        const app = startNode(join(ROOT, 'test/fixtures/failing-app.mjs'), {
          DB_KIND: t.kind,
          DB_URL: credentials.url,
          LOGGING: logging,
          FAIL_SQL: credentials.secretSql,
          SECRET_PARAM: credentials.secretParam,
        });
        expect(await app.exited).toBe(1);
        const output = stripVTControlCharacters(app.output());
        // TypeORM's logger really printed the failed query (and with true/'all' every query), redacted.
        expect(output).toContain(credentials.failedQuery);
        if (logging !== '["error"]') expect(output).toMatch(/query: SELECT (\$1::text|\?) AS x -- PARAMETERS: \["(password=)?\*\*\*"\]/);
        expect(output).not.toContain(PASSWORD);

        const cli = spawnSync(
          process.execPath,
          [join(ROOT, 'dist/cli/auto-migrator.js'), 'up', '--data-source', join(ROOT, 'test/fixtures/cli-data-source.mjs')],
          {
            env: {
              ...process.env,
              CLI_DB_KIND: t.kind,
              CLI_DB_URL: credentials.url,
              CLI_LOGGING: logging,
              CLI_FAIL_SQL: credentials.secretSql,
              CLI_SECRET_PARAM: credentials.secretParam,
            },
            encoding: 'utf8',
          },
        );
        expect(cli.status, cli.stderr).toBe(1);
        // Colours are on where the environment asks for them (CI=true does): read the text without them,
        // so that a secret split by escape codes is still found.
        const cliOutput = stripVTControlCharacters(`${cli.stdout}${cli.stderr}`);
        expect(cliOutput).toContain(credentials.failedQuery);
        expect(cliOutput).not.toContain(PASSWORD);
      } finally {
        await credentials.drop();
      }
    },
  );
});
