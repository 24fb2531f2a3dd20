import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { freePort } from './processes.js';

const CI = /^(1|true|yes)$/i.test(process.env['CI'] ?? '');

/** Where Debian installs PgBouncer. */
const BINARY = process.env['PGBOUNCER_BIN'] ?? '/usr/sbin/pgbouncer';

/** Why the pooler suites cannot run here, or undefined when they can. Under CI=true a missing binary is an error. */
export function pgbouncerSkipReason(): string | undefined {
  const found = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  if (found.status === 0) return undefined;
  const reason = `PgBouncer is not installed at ${BINARY} (apt-get install -y pgbouncer, or set PGBOUNCER_BIN)`;
  if (CI) throw new Error(`${reason}. Under CI=true the pooler suites are mandatory.`);
  return reason;
}

/** A PgBouncer of the test's own, on a free loopback port, in front of the test PostgreSQL server. */
export interface PgBouncer {
  readonly port: number;
  /** A URL for `database` through the pooler (an alias configured at start, or any real database). */
  url(database: string): string;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** Server connections per database/user pair: fewer than clients, so clients share them. Default 2. */
  poolSize?: number;
  /** Database aliases: alias name → real database name. */
  aliases?: Record<string, string>;
}

/**
 * Starts PgBouncer in `pool_mode=transaction` with trust authentication, as the postgres user
 * when this process is root (PgBouncer refuses to run as root), and waits until it accepts connections.
 */
export async function startPgBouncer(options: PgBouncerOptions = {}): Promise<PgBouncer> {
  const server = new URL(inject('postgresAdminUrl'));
  const dir = await mkdtemp(join(tmpdir(), 'auto-migrator-pgbouncer-'));
  await chmod(dir, 0o777);
  const port = await freePort();
  const target = `host=${server.hostname} port=${server.port || 5432}`;
  const user = decodeURIComponent(server.username || 'postgres');
  const password = decodeURIComponent(server.password);
  const aliases = Object.entries(options.aliases ?? {}).map(([alias, database]) => `${alias} = ${target} dbname=${database}`);
  const ini = join(dir, 'pgbouncer.ini');
  await writeFile(
    ini,
    [
      '[databases]',
      ...aliases,
      `* = ${target}${password ? ` password=${password}` : ''}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${options.poolSize ?? 2}`,
      'max_client_conn = 500',
      'ignore_startup_parameters = extra_float_digits,options',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'users.txt'), `"${user}" "${password}"\n`);
  for (const file of ['pgbouncer.ini', 'users.txt']) await chmod(join(dir, file), 0o644);
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = asRoot
    ? spawn('runuser', ['-u', 'postgres', '--', BINARY, ini], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(BINARY, [ini], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 15_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`PgBouncer did not start on port ${port}: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    port,
    url: (database) => {
      const url = new URL(server.toString());
      url.port = String(port);
      url.pathname = `/${database}`;
      return url.toString();
    },
    stop: async () => {
      // SIGTERM: immediate shutdown (SIGINT would wait for clients). Sent to PgBouncer itself, not runuser.
      const pid = Number(await readFile(join(dir, 'pgbouncer.pid'), 'utf8').catch(() => ''));
      if (pid > 0) process.kill(pid, 'SIGTERM');
      else if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
