import * as typeorm from 'typeorm';
import type { DataSource, Logger as TypeOrmLogger, QueryRunner } from 'typeorm';
import type { SecretRedactor } from '../util/secret-redactor.js';

/** Query runners running a statement whose failure of a kind the library expects and handles. */
const expectedFailures = new WeakMap<QueryRunner, (error: unknown) => boolean>();

/**
 * Runs `work` on `runner` with its failures that `expected` recognises (a migrations table that
 * does not exist yet, read on every fresh database) kept out of TypeORM's log: the library handles
 * them, and "query failed" in an application's log on every first boot would only alarm.
 */
export async function withExpectedFailures<T>(
  runner: QueryRunner,
  expected: (error: unknown) => boolean,
  work: () => Promise<T>,
): Promise<T> {
  expectedFailures.set(runner, expected);
  try {
    return await work();
  } finally {
    expectedFailures.delete(runner);
  }
}

/** Query runners whose statements stay out of TypeORM's log while they run (see withQuietQueries). */
const quiet = new WeakSet<QueryRunner>();

/**
 * Runs `work` on `runner` with nothing it sends in TypeORM's log, at any logging level: the
 * library's own routine (a replica polling for the migration lock), which it reports itself.
 */
export async function withQuietQueries<T>(runner: QueryRunner, work: () => Promise<T>): Promise<T> {
  if (quiet.has(runner)) return work();
  quiet.add(runner);
  try {
    return await work();
  } finally {
    quiet.delete(runner);
  }
}

/** The redactor each DataSource's logger currently uses (the latest installed wins). */
const installed = new WeakMap<DataSource, { redactor: SecretRedactor }>();

/**
 * Makes everything TypeORM logs for this DataSource pass through `redactor` first: queries, their
 * parameters, failed queries and their errors, slow queries, schema and migration messages, and
 * `log()` lines. TypeORM's query runners and migration executor read `dataSource.logger` at each
 * call, so the DataSource's `logger` property is replaced, once, by a redacting view of the
 * original (assigning a new logger, as `setOptions({ logging })` does, replaces what it wraps).
 * Installing again only updates the redactor.
 */
export function redactDataSourceLogger(dataSource: DataSource, redactor: SecretRedactor): void {
  const known = installed.get(dataSource);
  if (known) {
    known.redactor = redactor;
    return;
  }
  const state = { redactor };
  let original: TypeOrmLogger = dataSource.logger;
  const text = (value: string) => state.redactor.redact(value);
  const anything = (value: unknown): unknown => {
    if (typeof value === 'string') return text(value);
    if (value instanceof Error) return state.redactor.scrub(value);
    return value;
  };
  const parameters = (values: unknown): unknown => state.redactor.data(values);
  const redacting: Partial<TypeOrmLogger> = {
    logQuery: (query: string, values?: QueryParameters, queryRunner?: QueryRunner) => {
      if ((queryRunner && quiet.has(queryRunner)) || dropsQueries(original)) return;
      original.logQuery(text(query), parameters(values) as QueryParameters, queryRunner);
    },
    logQueryError: (error: string | Error, query: string, values?: QueryParameters, queryRunner?: QueryRunner) => {
      if (queryRunner && (quiet.has(queryRunner) || expectedFailures.get(queryRunner)?.(error))) return;
      original.logQueryError(anything(error) as string | Error, text(query), parameters(values) as QueryParameters, queryRunner);
    },
    logQuerySlow: (time: number, query: string, values?: QueryParameters, queryRunner?: QueryRunner) => {
      if (queryRunner && quiet.has(queryRunner)) return;
      original.logQuerySlow(time, text(query), parameters(values) as QueryParameters, queryRunner);
    },
    logSchemaBuild: (message: string, queryRunner?: QueryRunner) => original.logSchemaBuild(text(message), queryRunner),
    logMigration: (message: string, queryRunner?: QueryRunner) => original.logMigration(text(message), queryRunner),
    log: (level: 'log' | 'info' | 'warn', message: unknown, queryRunner?: QueryRunner) =>
      original.log(level, anything(message), queryRunner),
  };
  // Any other member (a custom logger's own methods) is the original's.
  const logger = new Proxy({} as TypeOrmLogger, {
    get: (_target, property) => {
      if (Object.hasOwn(redacting, property)) return redacting[property as keyof TypeOrmLogger];
      const value: unknown = Reflect.get(original, property, original);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(original) : value;
    },
    has: (_target, property) => property in redacting || Reflect.has(original, property),
  });
  Object.defineProperty(dataSource, 'logger', {
    configurable: true,
    enumerable: true,
    get: () => logger,
    set: (next: TypeOrmLogger) => {
      original = next;
    },
  });
  installed.set(dataSource, state);
}

/** TypeORM's AbstractLogger (0.3.12 and later), whose logQuery() first asks isLogEnabledFor('query'). */
const abstractLogger = (typeorm as { AbstractLogger?: { prototype: object } }).AbstractLogger?.prototype as
  { logQuery: unknown; isLogEnabledFor?: (level: string) => boolean } | undefined;

/**
 * Whether `logger` is sure to drop a query line: its logQuery() is TypeORM's own (which returns at
 * once unless its logging options include queries) and they do not. Not redacting those lines saves
 * a redaction of every statement (about 1,000 in a 200-migration run) with `logging` off; any other
 * logger gets every line, redacted.
 */
function dropsQueries(logger: TypeOrmLogger): boolean {
  if (abstractLogger === undefined || logger.logQuery !== abstractLogger.logQuery) return false;
  const enabled = (logger as { isLogEnabledFor?: (level: string) => boolean }).isLogEnabledFor;
  return typeof enabled === 'function' && !enabled.call(logger, 'query');
}

/** What TypeORM passes as a query's parameters. */
/** The parameters TypeORM's logger takes (an array; 1.x also an object of named ones). */
type QueryParameters = Parameters<TypeOrmLogger['logQuery']>[1];
