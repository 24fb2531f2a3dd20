import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A spawned Node process with its output collected. */
export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<number | NodeJS.Signals>;
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals>;
}

/** How to spawn: `barrier` gives the process a stdin for {@link startTogether}; `cwd` its working directory. */
export interface StartOptions {
  barrier?: boolean;
  cwd?: string;
}

export function startNode(script: string, env: Record<string, string | undefined>, options: StartOptions = {}): RunningProcess {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env, ...(options.barrier ? { BARRIER: 'stdin' } : {}) },
    stdio: [options.barrier ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | NodeJS.Signals>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    output: () => text,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Lines processes up: waits until each one started with `barrier` has loaded and printed READY,
 * then sends every one its start line at once. No wall clock involved.
 */
export async function startTogether(processes: readonly RunningProcess[], timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!processes.every((p) => /^READY$/m.test(p.output()))) {
    const ended = processes.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (ended) throw new Error(`a process ended before it was ready:\n${ended.output()}`);
    if (Date.now() > deadline) {
      const waiting = processes.filter((p) => !/^READY$/m.test(p.output())).map((p) => p.output());
      throw new Error(`${waiting.length} process(es) not ready after ${timeoutMs} ms:\n${waiting.join('\n-----\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const p of processes) p.child.stdin?.write('go\n');
}
