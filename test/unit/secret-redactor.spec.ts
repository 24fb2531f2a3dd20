import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SecretRedactor } from '../../lib/util/secret-redactor.js';

describe('SecretRedactor', () => {
  const redactor = new SecretRedactor(['p@ss/word!', 'abc']);

  it('masks passwords in URLs of any scheme', () => {
    expect(redactor.redact('connect postgres://app:hunter22@db:5432/x failed')).toBe('connect postgres://app:***@db:5432/x failed');
    expect(redactor.redact('mysql://root:r00t@127.0.0.1/test and redis://:tok3n@cache')).toBe(
      'mysql://root:***@127.0.0.1/test and redis://:***@cache',
    );
    expect(redactor.redact('no creds: postgres://app@db/x')).toBe('no creds: postgres://app@db/x');
  });

  it('masks key=value passwords', () => {
    expect(redactor.redact('host=db password=hunter22 user=app')).toBe('host=db password=*** user=app');
    expect(redactor.redact('Password: "quoted secret"')).toBe('Password: ***');
  });

  it("leaves MySQL/MariaDB's '(using password: YES)' alone: it says whether a password was sent, not which", () => {
    const denied = "Access denied for user 'app'@'10.0.0.5' (using password: YES)";
    expect(redactor.redact(denied)).toBe(denied);
    expect(redactor.redact('(using password: NO)')).toBe('(using password: NO)');
    expect(redactor.redact('password: yes-but-secret')).toBe('password: ***');
  });

  it('masks known literal secrets, raw and URL-encoded; ignores very short ones', () => {
    expect(redactor.redact('it was p@ss/word! or p%40ss%2Fword!')).toBe('it was *** or ***');
    expect(redactor.redact('abc stays: too short to search for')).toBe('abc stays: too short to search for');
  });

  it('collects passwords from DataSource options, including the URL', () => {
    const fromOptions = SecretRedactor.forDataSources([
      {
        options: {
          type: 'postgres',
          url: 'postgres://u:url-secret@h/d',
          password: 'opt-secret',
          replication: { master: { password: 'replica-secret' } },
        },
      } as never,
    ]);
    expect(fromOptions.redact('url-secret opt-secret replica-secret')).toBe('*** *** ***');
  });

  it('scrubs an error chain in place', () => {
    const inner = Object.assign(new Error('inner with p@ss/word!'), { driverError: { message: 'driver says p@ss/word!' } });
    const outer = new Error('outer postgres://u:p@ss/word!@h/d', { cause: inner });
    redactor.scrub(outer);
    expect(inspect(outer, { depth: 10 })).not.toContain('p@ss/word!');
  });

  it('scrubs every own field of every error it holds: bound parameters, nested data, any key, a client that would print a secret', () => {
    const secret = 'p@ss/word!';
    const parameters = ['alice', secret, 42];
    class Client {
      readonly options = { host: 'db', password: secret };
    }
    const driverError = Object.assign(new Error('duplicate key'), { where: `SQL statement "INSERT … ${secret}"`, detail: 'Key (x)' });
    const failed = Object.assign(new Error('insert failed'), {
      query: 'INSERT INTO t VALUES ($1, $2, $3)',
      parameters,
      driverError,
      context: { attempt: 1, values: [{ label: `token ${secret}` }] },
      client: new Client(),
    });
    const thrown = new Error('migration failed', { cause: new AggregateError([failed], 'several') });
    redactor.scrub(thrown);
    for (const text of [inspect(thrown), inspect(thrown, { depth: Infinity }), JSON.stringify(failed), driverError.where]) {
      expect(text).not.toContain(secret);
    }
    expect(failed.parameters).toEqual(['alice', '***', 42]);
    expect(failed.context).toEqual({ attempt: 1, values: [{ label: 'token ***' }] });
    // The caller's own array is not touched: it got a redacted copy.
    expect(parameters).toEqual(['alice', secret, 42]);
    // The client is still there for code that looks for it, hidden from printing.
    expect(failed.client).toBeInstanceOf(Client);
    expect(Object.keys(failed)).not.toContain('client');
  });
  it("data(): a redacted copy of bound parameters at any depth, the caller's array untouched; the same value when nothing is secret", () => {
    const secret = 'Sup3r-S3cret-Pw';
    const redactor = new SecretRedactor([secret]);
    const parameters = ['alice', secret, 42, { nested: [`password=${'x'.repeat(6)}`] }, Buffer.from('raw')];
    const redacted = redactor.data(parameters);
    expect(redacted).toEqual(['alice', '***', 42, { nested: ['password=***'] }, Buffer.from('raw')]);
    expect(parameters[1]).toBe(secret);
    const clean = ['alice', 42];
    expect(redactor.data(clean)).toBe(clean);
  });
});
