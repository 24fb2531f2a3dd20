import { describe, expect, it } from 'vitest';
import { isConnectionError, RetryStrategy } from '../../lib/index.js';

describe('isConnectionError', () => {
  it.each([
    ['a refused socket', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    [
      'a terminated PostgreSQL backend, wrapped by TypeORM',
      Object.assign(new Error('terminating connection'), { driverError: { code: '57P01' } }),
    ],
    ['a PostgreSQL connection-exception class', { code: '08006' }],
    ['a killed MariaDB connection (errno only)', Object.assign(new Error('Connection was killed'), { errno: 1927 })],
    ['a lost MySQL connection', { code: 'PROTOCOL_CONNECTION_LOST' }],
    ["pg's message with no code", new Error('Connection terminated unexpectedly')],
    ['a cause chain', new Error('outer', { cause: new Error('inner', { cause: { code: 'ETIMEDOUT' } }) })],
    ['an AggregateError', new AggregateError([new Error('x'), { code: 'ECONNRESET' }])],
  ])('%s is one', (_name, error) => {
    expect(isConnectionError(error)).toBe(true);
  });

  it.each([
    ['a missing table', Object.assign(new Error('relation "x" does not exist'), { driverError: { code: '42P01' } })],
    ['a syntax error', { code: 'ER_PARSE_ERROR', errno: 1064 }],
    ['a unique violation', { code: '23505' }],
    ['a string', 'ECONNREFUSED'],
    ['undefined', undefined],
  ])('%s is not', (_name, error) => {
    expect(isConnectionError(error)).toBe(false);
  });

  it('handles a cycle in the cause chain', () => {
    const a: { cause?: unknown } = {};
    a.cause = { cause: a };
    expect(isConnectionError(a)).toBe(false);
  });
});

describe('RetryStrategy options', () => {
  it.each([
    [{ attempts: 0 }, /"attempts" must be an integer >= 1; got 0/],
    [{ attempts: 1.5 }, /"attempts" must be an integer >= 1/],
    [{ initialDelayMs: -1 }, /"initialDelayMs" must be a finite number >= 0; got -1/],
    [{ maxDelayMs: Number.NaN }, /"maxDelayMs" must be a finite number >= 0/],
  ])('%j is refused, naming the option', (options, message) => {
    expect(() => new RetryStrategy(undefined, options)).toThrow(message);
  });
});
