// Shared by the check benchmarks: check() through the module, and the running release's load around a piece of work.
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AutoMigratorModule, AutoMigratorService } from 'nestjs-auto-migrator';

/**
 * check() of `migrations` through the module in an application context (not migrating): how long
 * it took and its findings (`severity rule`). Throws when a migration was not checked.
 */
export async function timeCheck(type, url, migrations) {
  const app = await NestFactory.createApplicationContext(
    {
      module: class CheckBench {},
      imports: [
        TypeOrmModule.forRoot({ type, url, migrations, logging: false }),
        AutoMigratorModule.forRoot({ runMigrations: false, logger: false, migrationTimeouts: { lockTimeoutMs: 5000 } }),
      ],
    },
    { logger: false },
  );
  try {
    const started = performance.now();
    const [result] = await app.get(AutoMigratorService).check({ timeoutMs: 600_000 });
    const ms = performance.now() - started;
    if (result.checked.length !== migrations.length)
      throw new Error(`checked ${result.checked.length} of ${migrations.length}: ${JSON.stringify(result.unchecked[0])}`);
    return { ms, findings: result.findings.map((finding) => `${finding.severity} ${finding.rule}`) };
  } finally {
    await app.close();
  }
}

/**
 * Runs `work` while the running release's load (bench/stall-load.mjs: an insert and a read of
 * `table` every 20 ms, from another process) goes on; resolves with work's result and the load's figures.
 */
export async function underLoad(url, table, work) {
  const load = spawn(process.execPath, [join(import.meta.dirname, 'stall-load.mjs')], {
    env: { ...process.env, DB_URL: url, STALL_TABLE: table, BARRIER: 'stdin' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let output = '';
  const seen = (text) =>
    new Promise((resolve) => {
      const check = () => output.includes(text) && resolve();
      load.stdout.on('data', (chunk) => {
        output += chunk;
        check();
      });
      check();
    });
  await seen('READY');
  load.stdin.write('go\n');
  await seen('RUNNING');
  const exited = new Promise((resolve) => load.once('exit', resolve));
  let result;
  try {
    result = await work();
  } finally {
    load.stdin.end('stop\n');
    await exited;
  }
  return { ...result, ...JSON.parse(output.trim().split('\n').at(-1)) };
}
