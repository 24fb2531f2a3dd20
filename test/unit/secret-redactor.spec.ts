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
});
