import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Controller, Get, type DynamicModule, type INestApplication, type LoggerService, Module, type Provider } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import type { DataSourceOptions } from 'typeorm';
import { AutoMigratorModule, MigrationsHealthIndicator, type AutoMigratorModuleOptions } from '../../lib/index.js';
import type { TestDatabase } from './databases.js';
import type { MigrationClass } from './migrations.js';

/** One log call as the application's logger received it. */
export interface LogEntry {
  level: 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';
  message: string;
  /** Everything else passed (stack, context), as text. */
  extra: string;
}

/** A Nest logger that keeps every line, so tests can assert on logs. */
export class CapturingLogger implements LoggerService {
  readonly entries: LogEntry[] = [];
  log(message: unknown, ...rest: unknown[]) {
    this.push('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.push('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.push('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]) {
    this.push('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]) {
    this.push('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]) {
    this.push('fatal', message, rest);
  }
  /** Every message and extra, one per line. */
  text(): string {
    return this.entries.map((entry) => `${entry.level} ${entry.message} ${entry.extra}`).join('\n');
  }
  messages(level?: LogEntry['level']): string[] {
    return this.entries.filter((entry) => !level || entry.level === level).map((entry) => entry.message);
  }
  private push(level: LogEntry['level'], message: unknown, rest: unknown[]) {
    this.entries.push({ level, message: String(message instanceof Error ? message.stack : message), extra: rest.map(String).join(' ') });
  }
}

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly migrations: MigrationsHealthIndicator,
  ) {}

  @Get('live')
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.migrations.isReady()]);
  }
}

/** One DataSource of a test app. */
export interface TestDataSource {
  /** Registration name; omit for the default DataSource. */
  name?: string;
  db: TestDatabase;
  migrations: MigrationClass[];
  options?: Partial<DataSourceOptions>;
}

export interface BootOptions {
  dataSources: TestDataSource[];
  /** AutoMigratorModule.forRoot options; or a ready module (e.g. forRootAsync). */
  migrator?: AutoMigratorModuleOptions | DynamicModule;
  providers?: Provider[];
  imports?: DynamicModule[];
  /** Start an HTTP server on a free port. */
  listen?: boolean;
}

export interface TestApp {
  app: INestApplication;
  logger: CapturingLogger;
  /** Base URL when `listen` was set. */
  url: string;
  close(): Promise<void>;
}

/** The application module for these options. */
export function testAppModule(options: BootOptions): DynamicModule {
  @Module({})
  class TestAppModule {}
  return {
    module: TestAppModule,
    imports: [
      ...options.dataSources.map((source) =>
        TypeOrmModule.forRoot({
          ...source.db.options,
          ...(source.options as object),
          ...(source.name ? { name: source.name } : {}),
          migrations: source.migrations,
          retryAttempts: 1,
          retryDelay: 100,
        } as TypeOrmModuleOptions),
      ),
      options.migrator && 'module' in options.migrator
        ? options.migrator
        : AutoMigratorModule.forRoot((options.migrator as AutoMigratorModuleOptions | undefined) ?? { runMigrations: true }),
      TerminusModule,
      ...(options.imports ?? []),
    ],
    controllers: [HealthController],
    providers: options.providers ?? [],
  };
}

/** Creates and boots (init, or listen) a real Nest application. Rejects when bootstrap fails. */
export async function bootApp(options: BootOptions, logger = new CapturingLogger()): Promise<TestApp> {
  const app = await NestFactory.create(testAppModule(options), { logger, abortOnError: false });
  try {
    if (options.listen) await app.listen(0, '127.0.0.1');
    else await app.init();
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  const address = options.listen ? (app.getHttpServer().address() as AddressInfo) : undefined;
  let closing: Promise<void> | undefined;
  return {
    app,
    logger,
    url: address ? `http://127.0.0.1:${address.port}` : '',
    // Idempotent: a test may close an app early that its suite also closes afterwards.
    close: () => (closing ??= app.close()),
  };
}

/** Waits until `check` returns a truthy value, polling; fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T> | T, timeoutMs = 15_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
