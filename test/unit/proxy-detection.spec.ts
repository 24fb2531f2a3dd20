import { describe, expect, it } from 'vitest';
import { seenThroughProxy } from '../../lib/runner/migration-session.js';

describe('seenThroughProxy: does a proxy sit between this socket and PostgreSQL?', () => {
  it('the server sees this socket’s own port: direct', () => {
    expect(seenThroughProxy(51234, 51234)).toBe(false);
  });
  it('the server sees another port (a pooler’s own connection, or a NAT): proxy', () => {
    expect(seenThroughProxy(51234, 40000)).toBe(true);
  });
  it('a TCP client the server sees on a Unix socket: proxy', () => {
    expect(seenThroughProxy(51234, null)).toBe(true);
  });
  it('Unix sockets on both sides: direct as far as can be seen', () => {
    expect(seenThroughProxy(undefined, null)).toBe(false);
    expect(seenThroughProxy(undefined, 40000)).toBe(true);
  });
});
