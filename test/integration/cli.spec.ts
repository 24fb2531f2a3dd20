import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { describeEachDatabase, type DatabaseFixture } from '../support/database-suite.js';
import { createTestDatabase } from '../support/databases.js';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(
  ROOT,
  (JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(ROOT, 'package.json'), 'utf8'))) as { bin: Record<string, string> })
    .bin['auto-migrator']!,
);
const FIXTURES = join(import.meta.dirname, '../fixtures');
const DATA_SOURCE = join(FIXTURES, 'cli-data-source.mjs');
const APP = join(FIXTURES, 'cli-app.mjs');
const NAMES = ['Alpha1700000000001', 'Beta1700000000002', 'Gamma1700000000003'];

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** What `--json` prints, whatever the command. */
interface JsonDocument<Entry = Record<string, unknown>> {
  command: string;
  ok: boolean;
  exitCode: number;
  durationMs: number;
  dataSources: Entry[];
  error?: { name: string; message: string; pending?: Record<string, string[]> };
}

/** Runs the real bin of the built package; an env value `undefined` removes that variable; killed after `killAfterMs`. */
function cli(args: string[], env: Record<string, string | undefined> = {}, killAfterMs?: number): Promise<CliRun> {
  const merged: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', ...env };
  for (const [key, value] of Object.entries(merged)) if (value === undefined) delete merged[key];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // A process that does not end by the deadline is killed: its code is then null.
    const deadline = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (code) => {
      clearTimeout(deadline);
      resolve({ code, stdout, stderr });
    });
  });
}

function dbEnv(t: DatabaseFixture) {
  return { CLI_DB_KIND: t.kind, CLI_DB_URL: t.db.url };
}

describeEachDatabase('the auto-migrator CLI', (t) => {
  it('status, ensure-up, up, down --to with a --data-source file: output, JSON and exit codes', async () => {
    const env = dbEnv(t);
    const status = await cli(['status', '--data-source', DATA_SOURCE], env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('DataSource "default": 0 applied, 3 pending, 0 unknown');
    expect(status.stdout).toMatch(/pending\s+2023-11-14T22:13:20\.001Z\s+Alpha1700000000001/);

    const pending = await cli(['ensure-up', '--data-source', DATA_SOURCE, '--json'], env);
    expect(pending.code).toBe(1);
    expect(JSON.parse(pending.stdout)).toEqual({
      command: 'ensure-up',
      ok: false,
      exitCode: 1,
      durationMs: expect.any(Number),
      dataSources: [],
      error: { name: 'PendingMigrationsError', message: expect.stringContaining('Alpha1700000000001'), pending: { default: NAMES } },
    });

    const up = await cli(['up', '--data-source', DATA_SOURCE], env);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/\[1\/3\] Alpha1700000000001 applied in \d+ ms/);
    expect(up.stdout).toContain(`DataSource "default": done, 3 applied: ${NAMES.join(', ')}`);
    expect(await t.db.recorded()).toEqual(NAMES);

    const ensured = await cli(['ensure-up', '--data-source', DATA_SOURCE], env);
    expect(ensured.code).toBe(0);
    expect(ensured.stdout.trim()).toBe('No pending migrations.');

    const json = JSON.parse((await cli(['status', '--data-source', DATA_SOURCE, '--json'], env)).stdout) as JsonDocument<{
      applied: Array<{ name: string }>;
      pending: unknown[];
    }>;
    expect(json).toMatchObject({ command: 'status', ok: true, exitCode: 0 });
    expect(json.dataSources[0]!.applied.map((m) => m.name)).toEqual(NAMES);
    expect(json.dataSources[0]!.pending).toEqual([]);

    const notApplied = await cli(['down', '--to', 'Omega1700000000009', '--data-source', DATA_SOURCE], env);
    expect(notApplied.code).toBe(2);
    expect(notApplied.stderr).toContain('--to "Omega1700000000009" is not an applied migration');
    expect(await t.db.recorded()).toEqual(NAMES);

    const down = await cli(['down', '--to', 'Alpha1700000000001', '--data-source', DATA_SOURCE, '--json'], env);
    expect(down.code, down.stderr).toBe(0);
    // The same envelope as every command; durations in whole milliseconds.
    const downJson = JSON.parse(down.stdout) as JsonDocument;
    expect(downJson).toEqual({
      command: 'down',
      ok: true,
      exitCode: 0,
      durationMs: expect.any(Number),
      dataSources: [{ dataSource: 'default', reverted: ['Gamma1700000000003', 'Beta1700000000002'], durationMs: expect.any(Number) }],
    });
    expect(Number.isInteger(downJson.durationMs)).toBe(true);
    expect(Number.isInteger(downJson.dataSources[0]!['durationMs'])).toBe(true);
    expect(down.stderr).toMatch(/\[1\/2\] Gamma1700000000003 reverted in \d+ ms/);
    expect(await t.db.recorded()).toEqual(['Alpha1700000000001']);
  });

  it('--json: stdout is one JSON document while migrations console.log and TypeORM logs every query; the rest is on stderr', async () => {
    const env = { ...dbEnv(t), CLI_CONSOLE_LOG: '1', CLI_LOGGING: 'true' };
    const runs: Array<[string[], string]> = [
      [['up'], 'Starting migration Alpha1700000000001…'],
      [['status'], 'query:'],
      [['ensure-up'], 'query:'],
      [['down', '--to', '0'], 'Reverting migration Gamma1700000000003…'],
    ];
    for (const [args, printed] of runs) {
      const run = await cli([...args, '--data-source', DATA_SOURCE, '--json'], env);
      expect(run.code, run.stderr).toBe(0);
      const document = JSON.parse(run.stdout) as JsonDocument;
      expect(document).toMatchObject({ command: args[0], ok: true, exitCode: 0 });
      expect(Number.isInteger(document.durationMs)).toBe(true);
      const stderr = stripVTControlCharacters(run.stderr);
      expect(stderr).toContain(printed);
      expect(stderr).toContain('query:');
    }
    const up = stripVTControlCharacters((await cli(['up', '--data-source', DATA_SOURCE, '--json'], env)).stderr);
    expect(up).toContain('Finished migration Gamma1700000000003');
    expect(await t.db.recorded()).toEqual(NAMES);
  });

  it('long lists are capped in log lines, messages and the table output; the JSON fields keep every name', async () => {
    const env = { ...dbEnv(t), CLI_MANY_MIGRATIONS: '40' };
    const many = Array.from({ length: 40 }, (_, i) => `Many${1700000001000 + i}`);
    const ensure = await cli(['ensure-up', '--data-source', DATA_SOURCE, '--json'], env);
    expect(ensure.code).toBe(1);
    const pending = JSON.parse(ensure.stdout) as JsonDocument;
    expect(pending.error!.pending).toEqual({ default: [...NAMES, ...many] });
    expect(pending.error!.message).toContain(`DataSource "default": ${[...NAMES, ...many.slice(0, 7)].join(', ')} … and 33 more.`);
    expect(pending.error!.message).not.toContain(many[7]);

    const up = await cli(['up', '--data-source', DATA_SOURCE], env);
    expect(up.code, up.stderr).toBe(0);
    const pendingLine = up.stderr.split('\n').find((line) => line.includes('43 pending migrations'));
    expect(pendingLine).toBe(
      `DataSource "default": 43 pending migrations (transaction mode 'each'): ${[...NAMES, ...many.slice(0, 7)].join(', ')} … and 33 more`,
    );
    expect(up.stdout).toBe(`DataSource "default": done, 43 applied: ${[...NAMES, ...many.slice(0, 7)].join(', ')} … and 33 more\n`);

    const failing = await cli(['down', '--to', '0', '--data-source', DATA_SOURCE], { ...env, CLI_FAIL_DOWN: many[9]! });
    expect(failing.code).toBe(1);
    const reverted = many.slice(10).reverse();
    expect(failing.stderr).toContain(
      `30 newer migration(s) were reverted before it and stay reverted: ${reverted.slice(0, 10).join(', ')} … and 20 more.`,
    );

    const status = JSON.parse((await cli(['status', '--data-source', DATA_SOURCE, '--json'], env)).stdout) as JsonDocument<{
      applied: Array<{ name: string }>;
      pending: Array<{ name: string }>;
    }>;
    expect(status.dataSources[0]!.applied.map((m) => m.name)).toEqual([...NAMES, ...many.slice(0, 10)]);
    expect(status.dataSources[0]!.pending.map((m) => m.name)).toEqual(many.slice(10));
  });

  it('checksums: another process of the same build reports nothing; an edited up() is "changed" in status; --accept-change clears it', async () => {
    const env = dbEnv(t);
    const edited = { ...env, CLI_EDIT_ALPHA: '1' };
    expect((await cli(['up', '--data-source', DATA_SOURCE], env)).code).toBe(0);
    const same = await cli(['status', '--data-source', DATA_SOURCE, '--json'], env);
    expect(JSON.parse(same.stdout).dataSources[0]).toMatchObject({ dataSource: 'default', changed: [] });

    const text = await cli(['status', '--data-source', DATA_SOURCE], edited);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('DataSource "default": 3 applied, 0 pending, 0 unknown, 1 changed since applied');
    // Without --strict, status and ensure-up exit 0 (ensure-up warns); with it, both exit 1 naming it.
    const ensured = await cli(['ensure-up', '--data-source', DATA_SOURCE], edited);
    expect(ensured.code, ensured.stderr).toBe(0);
    expect(ensured.stderr).toMatch(/applied, and changed since .*Alpha1700000000001/);
    const strictText = await cli(['status', '--strict', '--data-source', DATA_SOURCE], edited);
    expect(strictText.code, strictText.stderr).toBe(1);
    expect(strictText.stdout).toMatch(
      /Exit 1 \(--strict\):\n {2}DataSource "default": the migrations table does not fit this build: applied, and changed since .*Alpha1700000000001/,
    );
    const strictJson = JSON.parse((await cli(['status', '--strict', '--data-source', DATA_SOURCE, '--json'], edited)).stdout);
    expect(strictJson).toMatchObject({ ok: false, exitCode: 1, strict: [expect.stringMatching(/changed since .*Alpha1700000000001/)] });
    const strictEnsure = await cli(['ensure-up', '--strict', '--data-source', DATA_SOURCE, '--json'], edited);
    expect(strictEnsure.code, strictEnsure.stderr).toBe(1);
    expect(JSON.parse(strictEnsure.stdout).error).toMatchObject({ name: 'MigrationHistoryError', changed: ['Alpha1700000000001'] });
    expect((await cli(['status', '--strict', '--data-source', DATA_SOURCE], env)).code).toBe(0);
    expect((await cli(['ensure-up', '--strict', '--data-source', DATA_SOURCE], env)).code).toBe(0);
    expect(text.stdout).toMatch(/applied, CHANGED since \(checksum recorded applied \d{4}-.*Alpha1700000000001/);
    const json = JSON.parse((await cli(['status', '--data-source', DATA_SOURCE, '--json'], edited)).stdout) as JsonDocument<{
      changed: Array<Record<string, string>>;
    }>;
    const [changed] = json.dataSources[0]!.changed;
    expect(json.dataSources[0]!.changed).toHaveLength(1);
    expect(changed).toMatchObject({ name: 'Alpha1700000000001', recordedAs: 'applied', appliedAt: expect.stringMatching(/^\d{4}-/) });
    expect(changed!['recorded']).toMatch(/^v1:[0-9a-f]{64}$/);
    expect(changed!['current']).toMatch(/^v1:[0-9a-f]{64}$/);
    expect(changed!['current']).not.toBe(changed!['recorded']);

    const accepted = await cli(['resolve', 'Alpha1700000000001', '--accept-change', '--data-source', DATA_SOURCE, '--json'], edited);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(JSON.parse(accepted.stdout).dataSources[0]).toEqual({
      dataSource: 'default',
      migration: 'Alpha1700000000001',
      resolvedAs: 'change-accepted',
      checksum: { previous: changed!['recorded'], accepted: changed!['current'] },
    });
    expect(JSON.parse((await cli(['status', '--data-source', DATA_SOURCE, '--json'], edited)).stdout).dataSources[0].changed).toEqual([]);
    // The build before the edit now differs from what was accepted.
    const before = JSON.parse((await cli(['status', '--data-source', DATA_SOURCE, '--json'], env)).stdout);
    expect(before.dataSources[0].changed).toMatchObject([{ name: 'Alpha1700000000001', recordedAs: 'accepted' }]);
  });

  it('status --schema: the entities against the live schema; --strict exits 1 naming the statement a generated migration would hold', async () => {
    const env = dbEnv(t);
    expect((await cli(['up', '--data-source', DATA_SOURCE], env)).code).toBe(0);
    // SQLite: the fixture's hand-written `id INT PRIMARY KEY` is nullable there, which the entity's
    // primary column is not: TypeORM would rebuild the table (the service-level spec covers SQLite).
    if (t.kind !== 'sqlite') {
      const same = await cli(['status', '--schema', '--strict', '--data-source', DATA_SOURCE], { ...env, CLI_ENTITIES: 'alpha' });
      expect(same.code, same.stdout + same.stderr).toBe(0);
      expect(same.stdout).toContain('  entities: 1 entity mapped; the live schema has what they map');
    }

    const forgotten = { ...env, CLI_ENTITIES: 'alpha-note' };
    const text = await cli(['status', '--schema', '--strict', '--data-source', DATA_SOURCE], forgotten);
    expect(text.code, text.stderr).toBe(1);
    expect(text.stdout).toMatch(
      /entities: 1 entity mapped; the live schema differs: a generated migration \(typeorm migration:generate\) would hold \d+ statements?:/,
    );
    expect(text.stdout).toMatch(/["`]note["`]/);
    expect(text.stdout).toMatch(/Exit 1 \(--strict\):\n {2}DataSource "default": the live schema differs from the entities/);
    const json = JSON.parse((await cli(['status', '--schema', '--data-source', DATA_SOURCE, '--json'], forgotten)).stdout);
    expect(json).toMatchObject({
      ok: true,
      dataSources: [{ entityDrift: { entities: 1, statements: expect.arrayContaining([expect.stringMatching(/note/)]) } }],
    });
    // Without --schema nothing of the entities is read or shown.
    expect((await cli(['status', '--strict', '--data-source', DATA_SOURCE], forgotten)).code).toBe(0);

    // Today's differences accepted once: --strict then fails only on a new one; one gone is said.
    const baseline = join(await mkdtemp(join(tmpdir(), 'drift-')), 'baseline.json');
    const written = await cli(['status', '--schema', '--strict', '--write-baseline', baseline, '--data-source', DATA_SOURCE], forgotten);
    expect(written.code, written.stdout + written.stderr).toBe(0);
    expect(written.stdout).toContain(`Wrote the drift baseline to ${baseline}.`);
    const accepted = await cli(['status', '--schema', '--strict', '--baseline', baseline, '--data-source', DATA_SOURCE], forgotten);
    expect(accepted.code, accepted.stdout).toBe(0);
    expect(accepted.stdout).toMatch(/accepted by the baseline: \d+ entity statements?, 0 history differences \(not counted by --strict\)/);
    // Written again: what it accepted for a DataSource not read this time (--name) is kept.
    const accepted0 = JSON.parse(await readFile(baseline, 'utf8')) as { dataSources: Record<string, unknown> };
    await writeFile(
      baseline,
      JSON.stringify({ ...accepted0, dataSources: { ...accepted0.dataSources, other: { entities: ['X'], history: [] } } }),
    );
    expect((await cli(['status', '--schema', '--write-baseline', baseline, '--data-source', DATA_SOURCE], forgotten)).code).toBe(0);
    expect((JSON.parse(await readFile(baseline, 'utf8')) as { dataSources: Record<string, unknown> }).dataSources).toMatchObject({
      default: { entities: expect.arrayContaining([expect.stringMatching(/note/)]) },
      other: { entities: ['X'], history: [] },
    });
    const notesAdded = await cli(['status', '--schema', '--baseline', baseline, '--data-source', DATA_SOURCE], env);
    expect(notesAdded.stdout).toMatch(/no longer differs \(remove it from the baseline\): .*note/);
    const notOurs = join(dirname(baseline), 'other.json');
    await writeFile(notOurs, '{"format": "something else"}');
    const wrong = await cli(['status', '--schema', '--baseline', notOurs, '--data-source', DATA_SOURCE], forgotten);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`--baseline ${notOurs}: not a drift baseline of this library`);
    // Nor is a file of another kind written over.
    expect((await cli(['status', '--schema', '--write-baseline', notOurs, '--data-source', DATA_SOURCE], forgotten)).code).toBe(2);

    // --replay, the history against the live schema (a temporary database on the live server, allowed; SQLite: a temporary file).
    const replay = ['status', '--schema', '--replay', '--replay-on-live-server', '--strict', '--data-source', DATA_SOURCE];
    // How each names an index on alpha (id DESC): by table and definition.
    const index = (table: string) =>
      t.kind === 'postgres'
        ? `public.${table} CREATE INDEX USING btree (id DESC)`
        : t.kind === 'mariadb'
          ? `${table} INDEX BTREE (id DESC)`
          : `${table} (id DESC)`;
    const clean = await cli(replay, env);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(
      /history: 3 applied migrations replayed in temporary database (file \S+|"auto_migrator_shadow_\w+") in [\d.]+ s; the live schema is what they build/,
    );
    await t.db.query('CREATE INDEX alpha_by_hand ON alpha (id DESC)');
    const drifted = await cli(replay, env);
    expect(drifted.code, drifted.stderr).toBe(1);
    expect(drifted.stdout).toContain(`    added   index alpha_by_hand ${index('alpha')} (live only; no migration builds it)`);
    expect(drifted.stdout).toContain('DataSource "default": the live schema differs from what the history builds in 1 place');
    // Accepted: exit 0 until another change by hand.
    expect((await cli([...replay, '--write-baseline', baseline], env)).code).toBe(0);
    expect((await cli([...replay, '--baseline', baseline], env)).code).toBe(0);
    await t.db.query('CREATE INDEX beta_by_hand ON beta (id DESC)');
    const another = await cli([...replay, '--baseline', baseline], env);
    expect(another.code).toBe(1);
    expect(another.stdout).toContain('accepted by the baseline: 0 entity statements, 1 history difference');
    expect(another.stdout).toContain(`    added   index beta_by_hand ${index('beta')}`);
    // SQLite: the shadow is a file of its own, on no server.
    if (t.kind === 'sqlite') return;
    const withoutLiveServer = await cli(['status', '--schema', '--replay', '--data-source', DATA_SOURCE], env);
    expect(withoutLiveServer.code).toBe(2);
    expect(withoutLiveServer.stderr).toMatch(/--replay-on-live-server/);
  });

  it('plan prints the SQL and leaves the database unchanged (MariaDB: run in a temporary database with the live schema)', async () => {
    const env = dbEnv(t);
    expect((await cli(['up', '--data-source', DATA_SOURCE], env)).code).toBe(0);
    expect((await cli(['down', '--to', 'Alpha1700000000001', '--data-source', DATA_SOURCE], env)).code).toBe(0);
    const before = { tables: await t.db.tables(), recorded: await t.db.recorded() };

    const plan = await cli(['plan', '--data-source', DATA_SOURCE], env);
    {
      expect(plan.code, plan.stderr).toBe(0);
      if (t.kind === 'mariadb')
        expect(plan.stderr).toMatch(/the pending migrations run in a temporary database, "auto_migrator_shadow_\w+", with the live schema/);
      expect(plan.stdout).toBe(
        [
          '-- DataSource "default": 2 pending migration(s), dry run (rolled back)',
          '-- Beta1700000000002',
          'CREATE TABLE beta (id INT PRIMARY KEY);',
          '-- Gamma1700000000003',
          'CREATE TABLE gamma (id INT PRIMARY KEY);',
          '',
        ].join('\n'),
      );
      const json = JSON.parse((await cli(['plan', '--data-source', DATA_SOURCE, '--json'], env)).stdout) as JsonDocument;
      expect(json).toMatchObject({ command: 'plan', ok: true, exitCode: 0 });
      const [beta] = (json.dataSources[0] as { migrations: Array<{ statements: Array<{ locks?: unknown[] }> }> }).migrations[0]!.statements;
      expect(beta!.locks).toEqual(
        t.kind === 'postgres'
          ? expect.arrayContaining([{ schema: 'public', name: 'beta', kind: 'table', mode: 'ACCESS EXCLUSIVE', created: true }])
          : undefined,
      );
      expect(json.dataSources).toEqual([
        {
          dataSource: 'default',
          pending: 2,
          complete: true,
          // On PostgreSQL each statement also carries the locks the shadow saw it take (here on the tables it creates).
          migrations: [
            { name: 'Beta1700000000002', statements: [expect.objectContaining({ sql: 'CREATE TABLE beta (id INT PRIMARY KEY)' })] },
            { name: 'Gamma1700000000003', statements: [expect.objectContaining({ sql: 'CREATE TABLE gamma (id INT PRIMARY KEY)' })] },
          ],
        },
      ]);
    }
    expect({ tables: await t.db.tables(), recorded: await t.db.recorded() }).toEqual(before);
  });

  // MariaDB: every migration commits as it runs in the temporary database (DDL commits there): committing its transaction stops nothing.
  it.skipIf(t.kind === 'mariadb')('an incomplete plan says where and why on stderr, exits 1, and keeps nothing', async () => {
    const env = { ...dbEnv(t), CLI_PLAN_COMMITS: '1' };
    expect((await cli(['up', '--data-source', DATA_SOURCE], dbEnv(t))).code).toBe(0);
    const plan = await cli(['plan', '--data-source', DATA_SOURCE], env);
    expect(plan.code, plan.stderr).toBe(1);
    expect(plan.stderr).toMatch(
      /plan incomplete: stopped at migration 1 of 1, "CommitsItself1700000000006": it commits the transaction it runs in \(commitTransaction\(\)\), which a dry run cannot take back\. Nothing was kept/,
    );
    expect(plan.stdout).toContain('-- INCOMPLETE: 1 of 1 previewed');
    expect(await t.db.tables()).not.toContain('committed_early');
    expect(await t.db.recorded()).toEqual(NAMES);
  });

  it('--app boots the application context (its options apply) and --name picks a DataSource', async () => {
    const env = dbEnv(t);
    const up = await cli(['up', '--app', APP, '--name', 'default'], env);
    expect(up.code, up.stderr).toBe(0);
    expect(await t.db.recorded()).toEqual(NAMES);
    expect(up.stderr).not.toContain('InstanceLoader');

    const status = JSON.parse((await cli(['status', '--app', `${APP}#AppModule`, '--json'], env)).stdout) as JsonDocument<{
      dataSource: string;
    }>;
    expect(status.dataSources.map((s) => s.dataSource)).toEqual(['default', 'reports']);

    const wrongName = await cli(['status', '--app', APP, '--name', 'nope'], env);
    expect(wrongName.code).toBe(2);
    expect(wrongName.stderr).toContain('DataSource "nope" is not one AutoMigratorModule migrates; configured: "default", "reports"');

    const several = await cli(['down', '--to', '0', '--app', APP], env);
    expect(several.code).toBe(2);
    expect(several.stderr).toContain('down needs one DataSource; 2 are configured');
    expect(await t.db.recorded()).toEqual(NAMES);
  });

  it('--app on an application that fails to boot with a pool, a timer and a socket open: the error printed once, exit 1, the process ends', async () => {
    for (const command of ['status', 'up']) {
      const run = await cli([command, '--app', join(FIXTURES, 'cli-failing-boot-app.mjs')], dbEnv(t), 60_000);
      expect(run.code, `${command}: ${run.stderr}`).toBe(1);
      expect(run.stderr.split('redis://cache:6379 refused the connection').length - 1, run.stderr).toBe(1);
    }
  });
});

describe('the auto-migrator CLI with --tenants (postgres)', () => {
  it('up, status, ensure-up and down --to cover the tenant schemas', async () => {
    const db = await createTestDatabase('postgres');
    const env = { CLI_DB_URL: db.url, CLI_TENANTS: 'acme,globex' };
    const app = join(FIXTURES, 'cli-tenant-app.mjs');
    try {
      const up = await cli(['up', '--app', app, '--tenants'], env);
      expect(up.code, up.stderr).toBe(0);
      expect(up.stdout).toContain('DataSource "default", tenant "acme": done, 3 applied');
      const status = JSON.parse((await cli(['status', '--app', app, '--tenants', '--json'], env)).stdout) as JsonDocument<{
        tenant?: string;
        applied: unknown[];
      }>;
      expect(status.dataSources.map((s) => [s.tenant ?? '-', s.applied.length])).toEqual([
        ['-', 1],
        ['acme', 3],
        ['globex', 3],
      ]);
      expect((await cli(['ensure-up', '--app', app], env)).code).toBe(0);

      const down = await cli(['down', '--to', '0', '--app', app, '--tenants', '--json'], env);
      expect(down.code, down.stderr).toBe(0);
      expect(
        (JSON.parse(down.stdout) as JsonDocument<{ tenant: string; reverted: string[] }>).dataSources.map((r) => [
          r.tenant,
          r.reverted.length,
        ]),
      ).toEqual([
        ['acme', 3],
        ['globex', 3],
      ]);
      const pending = await cli(['ensure-up', '--app', app, '--json'], env);
      expect(pending.code).toBe(1);
      expect(Object.keys((JSON.parse(pending.stdout) as JsonDocument).error!.pending!)).toEqual(['default/acme', 'default/globex']);
    } finally {
      await db.drop();
    }
  });
});

describe("the auto-migrator CLI on an application's TypeScript data source and .env (postgres)", () => {
  const TS = join(FIXTURES, 'ts-data-source');
  /** As the TypeORM CLI's convention (ts-node) does it: a require hook for .ts, given through NODE_OPTIONS. */
  const TS_NODE_LIKE = { NODE_OPTIONS: `--require ${join(TS, 'register-ts.cjs')}`, GADGETS_DATABASE_URL: undefined };

  it('data-source.ts through a require hook, its URL from --env-file; without it, the unset variable is named', async () => {
    const db = await createTestDatabase('postgres');
    const work = await mkdtemp(join(tmpdir(), 'am-env-'));
    try {
      const envFile = join(work, '.env');
      await writeFile(envFile, `# the app's .env\nGADGETS_DATABASE_URL=${db.url}\n`);
      const dataSource = join(TS, 'data-source.ts');

      const missing = await cli(['status', '--data-source', dataSource], TS_NODE_LIKE);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('read GADGETS_DATABASE_URL from the environment, unset here');
      expect(missing.stderr).toContain('pass --env-file <path>');

      const noDriver = await cli(['status', '--data-source', join(TS, 'env-driver-data-source.mjs')], TS_NODE_LIKE);
      expect(noDriver.code).toBe(2);
      expect(noDriver.stderr).toContain('Wrong driver: "undefined" given');
      expect(noDriver.stderr).toContain('it read GADGETS_DB_TYPE, GADGETS_DATABASE_URL from the environment, unset here');

      const status = await cli(['status', '--data-source', dataSource, '--env-file', envFile, '--json'], TS_NODE_LIKE);
      expect(status.code, status.stderr).toBe(0);
      expect(
        (JSON.parse(status.stdout) as JsonDocument<{ pending: { name: string }[] }>).dataSources[0]!.pending.map((m) => m.name),
      ).toEqual(['CreateGadgets1700000000000']);
      // A variable already set in the environment wins over the file (as dotenv and Node's own --env-file; env-cmd would override it).
      const preset = await cli(['status', '--data-source', dataSource, '--env-file', envFile], {
        ...TS_NODE_LIKE,
        GADGETS_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/preset',
      });
      expect(preset.code).toBe(1);
      expect(preset.stderr).toMatch(/could not connect to postgres 127\.0\.0\.1:1\/preset/);
      const up = await cli(['up', '--data-source', dataSource, '--env-file', envFile], TS_NODE_LIKE);
      expect(up.code, up.stderr).toBe(0);
      expect(await db.recorded()).toEqual(['CreateGadgets1700000000000']);

      // A missing file is named and nothing runs. Node 20 itself also reads --env-file after the script
      // (exit 9, "node: <path>: not found") before the CLI's own check (exit 2) can.
      const noFile = await cli(['up', '--data-source', dataSource, '--env-file', join(work, 'nope.env')], TS_NODE_LIKE);
      expect([2, 9]).toContain(noFile.code);
      expect(noFile.stderr).toContain(join(work, 'nope.env'));
      expect(noFile.stderr).toMatch(/no such file|not found/);
    } finally {
      await rm(work, { recursive: true, force: true });
      await db.drop();
    }
  });

  it('a TypeScript file where no ts-node can be found, and no loader given: exit 2, the error says once what to install or use', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'am-no-ts-node-'));
    try {
      await writeFile(join(dir, 'data-source.ts'), 'export const x = 1;\n');
      const run = await cli(['status', '--data-source', join(dir, 'data-source.ts')], { NODE_OPTIONS: undefined });
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/is TypeScript, no TypeScript loader is registered, and ts-node cannot be found from it/);
      expect(run.stderr.match(/For a TypeScript file/g)).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a Nest app's data-source.ts (a dozen decorated entities) with no loader set up: the app's own ts-node, transpile-only; a loader without decorator metadata is named as the cause, not the connection", async () => {
    const db = await createTestDatabase('postgres');
    const app = join(FIXTURES, 'ts-app');
    const dataSource = join(app, 'src/database/data-source.ts');
    const env = { APP_DATABASE_URL: db.url, NODE_OPTIONS: undefined };
    try {
      const status = await cli(['status', '--data-source', dataSource, '--json'], env);
      expect(status.code, status.stderr).toBe(0);
      expect(
        (JSON.parse(status.stdout) as JsonDocument<{ pending: { name: string }[] }>).dataSources[0]!.pending.map((m) => m.name),
      ).toEqual(['Init1700000000000']);
      const up = await cli(['up', '--data-source', dataSource], env);
      expect(up.code, up.stderr).toBe(0);
      expect(
        await db.query(
          `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE 'migrations%'`,
        ),
      ).toEqual([{ n: 12 }]);

      // As tsx compiles: decorators, no metadata. Whether the file imports the entities or the DataSource loads them by glob.
      const withoutMetadata = { ...env, NODE_OPTIONS: `--require ${join(app, 'register-without-metadata.cjs')}` };
      for (const file of ['data-source.ts', 'glob-data-source.ts']) {
        const run = await cli(['status', '--data-source', join(app, 'src/database', file)], withoutMetadata);
        expect([run.code, run.stderr], file).toEqual([
          2,
          expect.stringMatching(
            /AutoMigratorConfigError: .*TypeORM found no type for \w+Entity#\w+ .*without decorator metadata.*A loader such as tsx/,
          ),
        ]);
        expect(run.stderr).not.toMatch(/could not connect/);
      }
    } finally {
      await db.drop();
    }
  });

  it('a DataSource found under `default` (what import() gives for a CommonJS data-source.ts under tsx: { default: { AppDataSource } })', async () => {
    const db = await createTestDatabase('postgres');
    try {
      const run = await cli(['up', '--data-source', join(TS, 'wrapped-data-source.mjs')], { CLI_DB_KIND: 'postgres', CLI_DB_URL: db.url });
      expect(run.code, run.stderr).toBe(0);
      expect(await db.recorded()).toEqual(NAMES);
    } finally {
      await db.drop();
    }
  });
});

describe('the auto-migrator CLI when the --data-source DataSource cannot connect', () => {
  /** A port nothing listens on. */
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  it.each([['postgres'], ['mariadb']])(
    '%s at a closed port: one line naming the file and the target, no password, exit 1',
    async (kind) => {
      const port = await closedPort();
      const run = await cli(['status', '--data-source', DATA_SOURCE, '--json'], {
        CLI_DB_KIND: kind,
        CLI_DB_URL: `${kind}://app:Sup3rSecretPw@127.0.0.1:${port}/appdb`,
      });
      expect(run.code).toBe(1);
      const line = `DataSourceConnectionError: the DataSource exported by ${DATA_SOURCE} could not connect to ${kind} 127.0.0.1:${port}/appdb, user "app": `;
      expect(run.stderr).toContain(`${line}connect ECONNREFUSED 127.0.0.1:${port}\n`);
      expect(JSON.parse(run.stdout)).toMatchObject({
        command: 'status',
        ok: false,
        exitCode: 1,
        error: { name: 'DataSourceConnectionError' },
      });
      expect(`${run.stdout}${run.stderr}`).not.toContain('Sup3rSecretPw');
    },
  );

  it("postgres with its URL variable unset (and no USER): says no url or host is configured, not only the driver's words", async () => {
    const run = await cli(['status', '--data-source', DATA_SOURCE], {
      CLI_DB_KIND: 'postgres',
      CLI_DB_URL: undefined,
      USER: undefined,
      PGUSER: undefined,
      PGHOST: undefined,
      PGDATABASE: undefined,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `DataSourceConnectionError: the DataSource exported by ${DATA_SOURCE} could not connect to postgres localhost:5432/(no database), no user name (no url and no host in its options: is the environment variable it reads set?): `,
    );
  });
});

describe('the auto-migrator CLI on a SQLite file that does not exist', () => {
  it('status and ensure-up report everything pending and create nothing; plan refuses; up creates it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'am-cli-'));
    const file = join(dir, 'not-yet', 'app.db');
    const env = { CLI_DB_KIND: 'sqlite', CLI_DB_URL: file };
    try {
      const status = await cli(['status', '--data-source', DATA_SOURCE], env);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain(
        `DataSource "default": 0 applied, 3 pending, 0 unknown (the SQLite database file ${file} does not exist yet; nothing was created)`,
      );
      const json = JSON.parse((await cli(['status', '--data-source', DATA_SOURCE, '--json'], env)).stdout) as JsonDocument<{
        pending: Array<{ name: string }>;
        missingDatabaseFile: string;
      }>;
      expect(json.dataSources[0]!.pending.map((m) => m.name)).toEqual(NAMES);
      expect(json.dataSources[0]!.missingDatabaseFile).toBe(file);

      const ensure = await cli(['ensure-up', '--data-source', DATA_SOURCE], env);
      expect(ensure.code).toBe(1);
      expect(ensure.stderr).toContain('PendingMigrationsError');

      const plan = await cli(['plan', '--data-source', DATA_SOURCE], env);
      expect(plan.code).toBe(2);
      expect(plan.stderr).toContain(`the SQLite database file ${file} does not exist, and plan creates nothing`);
      const schema = await cli(['status', '--schema', '--data-source', DATA_SOURCE], { ...env, CLI_ENTITIES: 'alpha' });
      expect(schema.code, schema.stderr).toBe(0);
      expect(schema.stdout).toContain('  entities: not compared: the SQLite database file does not exist, and a read creates nothing');
      expect(existsSync(join(dir, 'not-yet'))).toBe(false);

      const up = await cli(['up', '--data-source', DATA_SOURCE], env);
      expect(up.code, up.stderr).toBe(0);
      expect(existsSync(file)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the auto-migrator CLI: check before a rolling deploy (postgres)', () => {
  it('an index on a table of 100,000 rows: exit 1 with the finding in text and JSON; on an empty table exit 0; a migration it cannot check fails only with --strict', async () => {
    const db = await createTestDatabase('postgres');
    const dir = await mkdtemp(join(tmpdir(), 'check-migrations-'));
    const migration = (name: string, statement: string, transaction = true) =>
      writeFile(
        join(dir, `${name}.cjs`),
        `exports.${name} = class ${name} { ${transaction ? '' : 'transaction = false; '}async up(q) { await q.query(${JSON.stringify(statement)}); } async down() {} };\n`,
      );
    const env = { CLI_DB_KIND: 'postgres', CLI_DB_URL: db.url, CLI_MIGRATIONS_GLOB: join(dir, '*.cjs') };
    try {
      await db.query('CREATE TABLE users (id INT PRIMARY KEY, email TEXT)');
      await migration('IndexEmail1733000000001', 'CREATE INDEX users_email ON users (email)');
      const empty = await cli(['check', '--data-source', DATA_SOURCE], env);
      expect(empty.code, empty.stderr).toBe(0);
      // An empty table: the index build blocks nothing for long (SHARE is not ACCESS EXCLUSIVE: no no-lock-timeout either).
      expect(empty.stdout).toContain('DataSource "default": 1 pending migration checked, 0 errors, 0 warnings, 0 accepted, 0 not checked');

      await db.query(`INSERT INTO users SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 100000) AS g`);
      await db.query('ANALYZE users');
      const big = await cli(['check', '--data-source', DATA_SOURCE, '--json'], env);
      expect(big.code, big.stderr).toBe(1);
      const document = JSON.parse(big.stdout) as JsonDocument<{
        findings: Array<Record<string, unknown>>;
        checked: string[];
        unchecked: unknown[];
      }>;
      expect(document).toMatchObject({ command: 'check', ok: false, exitCode: 1 });
      expect(document.dataSources[0]!.findings[0]).toEqual({
        rule: 'blocking-index',
        severity: 'error',
        migration: 'IndexEmail1733000000001',
        statement: 'CREATE INDEX users_email ON users (email)',
        table: 'public.users',
        lock: 'SHARE',
        message: expect.stringMatching(/about 100,000 rows/),
      });
      expect(document.dataSources[0]!.checked).toEqual(['IndexEmail1733000000001']);
      expect(await db.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'users' AND indexname = 'users_email'`)).toEqual([]);

      await rm(join(dir, 'IndexEmail1733000000001.cjs'));
      await migration('IndexEmail1733000000001', 'CREATE INDEX CONCURRENTLY users_email ON users (email)', false);
      // transaction = false runs committed in the temporary shadow: checked, nothing found.
      const concurrently = await cli(['check', '--strict', '--data-source', DATA_SOURCE], env);
      expect(concurrently.code, concurrently.stderr).toBe(0);
      expect(concurrently.stdout).toContain(
        'DataSource "default": 1 pending migration checked, 0 errors, 0 warnings, 0 accepted, 0 not checked',
      );
      // A DO block cannot be read statement by statement: not checked, which fails only with --strict.
      await migration('Touch1733000000002', 'DO $$ BEGIN PERFORM 1; END $$');
      const opaque = await cli(['check', '--data-source', DATA_SOURCE], env);
      expect(opaque.code, opaque.stderr).toBe(0);
      expect(opaque.stdout).toMatch(/NOT CHECKED Touch1733000000002: statement 1 \(DO .*\): a DO block/);
      const strict = await cli(['check', '--strict', '--data-source', DATA_SOURCE], env);
      expect(strict.code).toBe(1);
      expect(strict.stdout).toContain('(fails with --strict)');
      await rm(join(dir, 'Touch1733000000002.cjs'));

      // snapshot writes what the build maps (this data source maps no entity) with its newest migration.
      const snapshotFile = join(dir, 'release.json');
      const snapshot = await cli(['snapshot', '--data-source', DATA_SOURCE, '--out', snapshotFile, '--build', 'v7', '--json'], env);
      expect(snapshot.code, snapshot.stderr).toBe(0);
      expect((JSON.parse(snapshot.stdout) as JsonDocument).dataSources).toEqual([
        { dataSource: 'default', tables: 0, columns: 0, newestMigration: 'IndexEmail1733000000001' },
      ]);
      expect(JSON.parse(await readFile(snapshotFile, 'utf8'))).toMatchObject({ format: 'nestjs-auto-migrator/snapshot@1', build: 'v7' });

      // check --snapshot: the previous release maps users.email; a migration dropping it fails the check.
      const previous = {
        format: 'nestjs-auto-migrator/snapshot@1',
        build: 'v6',
        createdAt: '2026-12-01T00:00:00.000Z',
        dataSources: [
          {
            dataSource: 'default',
            tables: [{ table: 'users', entities: ['User'], columns: [{ name: 'email', type: 'text', nullable: true, generated: false }] }],
          },
        ],
      };
      await writeFile(snapshotFile, JSON.stringify(previous));
      await rm(join(dir, 'IndexEmail1733000000001.cjs'));
      await migration('DropEmail1733000000002', 'ALTER TABLE users DROP COLUMN email');
      const breaking = await cli(['check', '--data-source', DATA_SOURCE, '--snapshot', snapshotFile], env);
      expect(breaking.code, breaking.stderr).toBe(1);
      expect(breaking.stdout).toContain('held against the previous release: build v6');
      expect(breaking.stdout).toMatch(
        /ERROR drop-column \(public\.users\."email"\): DropEmail1733000000002: drops "email", but the previous release \(build v6\) maps public\.users \(User\)/,
      );
      await writeFile(snapshotFile, '{"format": "something else"}');
      const malformed = await cli(['check', '--data-source', DATA_SOURCE, '--snapshot', snapshotFile], env);
      expect(malformed.code).toBe(2);
      expect(malformed.stderr).toContain(`--snapshot ${snapshotFile}: not a snapshot of this library`);
      expect(
        await db.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'email'`),
      ).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await db.drop();
    }
  });
});

describeEachDatabase(
  'the auto-migrator CLI: check before a rolling deploy, MySQL/MariaDB',
  (t) => {
    it("the issue's case: check --snapshot --json exits 1 with drop-column and an error on the type change, the live table untouched; a safe build exits 0, nothing unchecked, nothing added", async () => {
      const db = t.db;
      const dir = await mkdtemp(join(tmpdir(), 'check-mysql-migrations-'));
      const migration = (name: string, ...statements: string[]) =>
        writeFile(
          join(dir, `${name}.cjs`),
          `exports.${name} = class ${name} { async up(q) { for (const s of ${JSON.stringify(statements)}) await q.query(s); } async down() {} };\n`,
        );
      const env = { CLI_DB_KIND: 'mariadb', CLI_DB_URL: db.url, CLI_MIGRATIONS_GLOB: join(dir, '*.cjs') };
      const columns = async () =>
        (
          (await db.query(
            `SELECT CONCAT(COLUMN_NAME, ' ', DATA_TYPE) AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' ORDER BY ORDINAL_POSITION`,
          )) as Array<{ c: string }>
        ).map((row) => row.c);
      try {
        await db.query('CREATE TABLE users (id INT PRIMARY KEY, nickname VARCHAR(50), visits INT)');
        await db.query(`INSERT INTO users SELECT seq, CONCAT('nick', seq), seq FROM seq_1_to_200000`);
        await db.query('ANALYZE TABLE users');
        const snapshotFile = join(dir, 'release.json');
        const mapped = (name: string, type: string) => ({ name, type, nullable: true, generated: false });
        await writeFile(
          snapshotFile,
          JSON.stringify({
            format: 'nestjs-auto-migrator/snapshot@1',
            build: 'v1',
            createdAt: '2026-12-01T00:00:00.000Z',
            dataSources: [
              {
                dataSource: 'default',
                tables: [
                  {
                    table: 'users',
                    entities: ['User'],
                    columns: [mapped('id', 'int'), mapped('nickname', 'varchar'), mapped('visits', 'int')],
                  },
                ],
              },
            ],
          }),
        );
        const before = await columns();
        await migration(
          'NextBuild1733000000001',
          'ALTER TABLE `users` DROP COLUMN `nickname`',
          'ALTER TABLE `users` MODIFY `visits` BIGINT NULL',
        );
        const breaking = await cli(['check', '--data-source', DATA_SOURCE, '--snapshot', snapshotFile, '--json'], env);
        expect(breaking.code, breaking.stderr).toBe(1);
        const document = JSON.parse(breaking.stdout) as JsonDocument<{ findings: Array<Record<string, unknown>>; unchecked: unknown[] }>;
        expect(document.dataSources[0]!.findings.map((finding) => [finding['severity'], finding['rule'], finding['column']])).toEqual([
          ['error', 'drop-column', 'nickname'],
          ['error', 'change-column-type', 'visits'],
          // The first statement on the table takes its metadata lock with no limit: once per migration.
          ['warning', 'no-lock-timeout', undefined],
          ['error', 'table-rewrite', 'visits'],
        ]);
        expect(document.dataSources[0]!.unchecked).toEqual([]);
        expect(await columns()).toEqual(before);

        await rm(join(dir, 'NextBuild1733000000001.cjs'));
        await migration(
          'NextBuild1733000000001',
          'SET SESSION lock_wait_timeout = 5',
          'ALTER TABLE `users` ADD `nickname_v2` VARCHAR(80) NULL',
        );
        const safe = await cli(['check', '--strict', '--data-source', DATA_SOURCE, '--snapshot', snapshotFile, '--json'], env);
        expect(safe.code, safe.stdout + safe.stderr).toBe(0);
        expect(
          (JSON.parse(safe.stdout) as JsonDocument<{ findings: unknown[]; unchecked: unknown[]; checked: string[] }>).dataSources[0],
        ).toMatchObject({
          findings: [],
          unchecked: [],
          checked: ['NextBuild1733000000001'],
        });
        expect(await columns()).toEqual(before);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  },
  ['mariadb'],
);

describe("the auto-migrator CLI: the migrations' timeouts for up and down with --data-source (postgres)", () => {
  it('--lock-timeout gives up on a lock held elsewhere, --statement-timeout ends a long statement; with --app or another command they are refused', async () => {
    const db = await createTestDatabase('postgres');
    const dir = await mkdtemp(join(tmpdir(), 'timeout-migrations-'));
    const migration = (name: string, statement: string) =>
      writeFile(
        join(dir, `${name}.cjs`),
        `exports.${name} = class ${name} { async up(q) { await q.query(${JSON.stringify(statement)}); } async down() {} };\n`,
      );
    const env = { CLI_DB_KIND: 'postgres', CLI_DB_URL: db.url, CLI_MIGRATIONS_GLOB: join(dir, '*.cjs') };
    const { default: pg } = await import('pg');
    const holder = new pg.Client({ connectionString: db.url });
    try {
      await db.query('CREATE TABLE held (id int)');
      await migration('Widen1733000000001', 'ALTER TABLE held ADD COLUMN extra int');
      await holder.connect();
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE held IN ACCESS SHARE MODE');
      const started = Date.now();
      const waited = await cli(['up', '--data-source', DATA_SOURCE, '--lock-timeout', '700'], env, 60_000);
      expect(waited.code, waited.stderr).toBe(1);
      expect(waited.stderr).toMatch(/canceling statement due to lock timeout/);
      expect(Date.now() - started).toBeLessThan(30_000);
      await holder.query('ROLLBACK');

      await rm(join(dir, 'Widen1733000000001.cjs'));
      await migration('Slow1733000000001', 'SELECT pg_sleep(5)');
      const slow = await cli(['up', '--data-source', DATA_SOURCE, '--statement-timeout', '300'], env, 60_000);
      expect(slow.code, slow.stderr).toBe(1);
      expect(slow.stderr).toMatch(/canceling statement due to statement timeout/);

      const status = await cli(['status', '--data-source', DATA_SOURCE, '--statement-timeout', '300'], env);
      expect([status.code, status.stderr]).toEqual([2, expect.stringMatching(/--statement-timeout goes with up or down, not status/)]);
      const app = await cli(['up', '--app', APP, '--lock-timeout', '300'], env);
      expect([app.code, app.stderr]).toEqual([
        2,
        expect.stringMatching(
          /--lock-timeout goes with --data-source; with --app, set migrationTimeouts\.lockTimeoutMs in AutoMigratorModule/,
        ),
      ]);
    } finally {
      await holder.end().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      await db.drop();
    }
  });
});

describe('the auto-migrator CLI refuses bad input with exit 2, running nothing', () => {
  const cases: Array<[string, string[], RegExp]> = [
    [
      'an unknown command',
      ['migrate', '--data-source', DATA_SOURCE],
      /unknown command "migrate"; commands: status, up, down, ensure-up, plan, check, snapshot, resolve/,
    ],
    ['an unknown flag', ['up', '--data-source', DATA_SOURCE, '--force'], /Unknown option '--force'/],
    ['no command', ['--data-source', DATA_SOURCE], /no command given/],
    ['no target', ['up'], /give exactly one of --data-source <file> or --app <file>\[#Export\]/],
    ['two targets', ['up', '--data-source', DATA_SOURCE, '--app', APP], /give exactly one of --data-source/],
    ['down without --to', ['down', '--data-source', DATA_SOURCE], /down needs --to <version>/],
    ['--to without down', ['up', '--to', '0', '--data-source', DATA_SOURCE], /--to goes with down, not up/],
    [
      'a file that does not exist',
      ['up', '--data-source', 'nowhere/data-source.js'],
      /--data-source nowhere\/data-source\.js: no such file/,
    ],
    ['a file that exports no DataSource', ['up', '--data-source', join(FIXTURES, 'no-data-source.mjs')], /exports no TypeORM DataSource/],
    ['an --app export that is not a module', ['up', '--app', `${APP}#notAModule`], /exports "notAModule", but it is not a Nest module/],
    ['an --app export that does not exist', ['up', '--app', `${APP}#Nope`], /has no export "Nope"\. Its exports: .*AppModule/],
    [
      'a plan timeout that is not a number',
      ['plan', '--timeout', '5s', '--data-source', DATA_SOURCE],
      /--timeout takes a whole number of ms \(1 to 2147483647\); got "5s"/,
    ],
    [
      '--lock-timeout with another command',
      ['status', '--lock-timeout', '100', '--data-source', DATA_SOURCE],
      /--lock-timeout goes with plan, check, up or down, not status/,
    ],
    ['--schema with another command', ['up', '--schema', '--data-source', DATA_SOURCE], /--schema goes with status, not up/],
    [
      '--replay without --schema',
      ['status', '--replay', '--data-source', DATA_SOURCE],
      /--replay and --replay-on-live-server go with status --schema/,
    ],
    [
      '--strict with another command',
      ['plan', '--strict', '--data-source', DATA_SOURCE],
      /--strict goes with status, ensure-up or check, not plan/,
    ],
    ['snapshot without --out', ['snapshot', '--data-source', DATA_SOURCE], /snapshot needs --out <file>/],
    [
      '--running-builds with another command',
      ['plan', '--running-builds', '--data-source', DATA_SOURCE],
      /--running-builds goes with check, not plan/,
    ],
    [
      '--snapshot that does not exist',
      ['check', '--snapshot', 'nowhere.json', '--data-source', DATA_SOURCE],
      /--snapshot nowhere\.json: no such file/,
    ],
    [
      '--out with another command',
      ['check', '--out', 'x.json', '--data-source', DATA_SOURCE],
      /--out and --build go with snapshot, not check/,
    ],
    ['--tenants with check', ['check', '--tenants', '--app', APP], /--tenants does not go with check/],
    [
      'resolve without the migration',
      ['resolve', '--applied', '--data-source', DATA_SOURCE],
      /resolve needs the migration: resolve <migration> --applied \| --not-applied \| --accept-change/,
    ],
    [
      'resolve without --applied or --not-applied',
      ['resolve', 'Alpha1700000000001', '--data-source', DATA_SOURCE],
      /resolve needs exactly one of --applied, --not-applied or --accept-change/,
    ],
    [
      'resolve with both',
      ['resolve', 'Alpha1700000000001', '--applied', '--not-applied', '--data-source', DATA_SOURCE],
      /resolve needs exactly one of/,
    ],
    [
      '--applied without resolve',
      ['up', '--applied', '--data-source', DATA_SOURCE],
      /--applied, --not-applied and --accept-change go with resolve, not up/,
    ],
    [
      'resolve with --accept-change and --applied',
      ['resolve', 'Alpha1700000000001', '--accept-change', '--applied', '--data-source', DATA_SOURCE],
      /resolve needs exactly one of/,
    ],
    [
      '--tenants with resolve --applied',
      ['resolve', 'Alpha1700000000001', '--applied', '--tenants', '--app', APP],
      /--tenants goes with resolve --accept-change only/,
    ],
    [
      'resolve --accept-change of a migration not applied',
      ['resolve', 'Alpha1700000000001', '--accept-change', '--data-source', DATA_SOURCE],
      /cannot accept a change of "Alpha1700000000001": it is not applied.*Nothing was changed/,
    ],
    [
      'resolve of a migration not recorded as started',
      ['resolve', 'Alpha1700000000001', '--not-applied', '--data-source', DATA_SOURCE],
      /cannot resolve "Alpha1700000000001": it is not recorded as started\. No migration is recorded as started\. Nothing was changed/,
    ],
    ['--tenants with a --data-source file', ['status', '--tenants', '--data-source', DATA_SOURCE], /--tenants goes with --app/],
    [
      'a TypeScript ES module ts-node cannot require',
      ['up', '--data-source', join(ROOT, 'test/support/databases.ts')],
      /could not be loaded: Must use import to load ES Module[\s\S]*For a TypeScript file, the CLI uses the application's own ts-node[\s\S]*--import tsx/,
    ],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const db = await createTestDatabase('sqlite');
    try {
      const run = await cli(args, { CLI_DB_KIND: 'sqlite', CLI_DB_URL: db.url });
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(await db.tables()).toEqual([]);
    } finally {
      await db.drop();
    }
  });

  it('a DataSource whose migrations glob finds nothing from this working directory: exit 2, for status and up', async () => {
    const db = await createTestDatabase('sqlite');
    try {
      for (const command of ['status', 'up']) {
        const run = await cli([command, '--data-source', DATA_SOURCE], {
          CLI_DB_KIND: 'sqlite',
          CLI_DB_URL: db.url,
          CLI_MIGRATIONS_GLOB: 'dist/no-such-directory/*.js',
        });
        expect(run.code, run.stderr).toBe(2);
        expect(run.stderr).toContain(
          `AutoMigratorConfigError: DataSource "default": no migrations found. Its "migrations" option: "dist/no-such-directory/*.js"; working directory: ${process.cwd()}.`,
        );
      }
      expect(await db.tables()).toEqual([]);
    } finally {
      await db.drop();
    }
  });

  it('--help prints the usage with exit 0', async () => {
    const run = await cli(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      "Exit codes: 0 success, 1 pending (ensure-up), a failed or dirty migration, a running migration's lock (resolve),\na history policy's refusal, an error-level finding (check), or what --strict adds, 2 usage or configuration error.",
    );
    expect(run.stdout).toContain('resolve <migration> (--applied | --not-applied | --accept-change)');
  });
});
