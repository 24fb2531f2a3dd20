import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECK_RULES } from '../../lib/check/check-finding.js';

describe("check's rules and the guide agree", () => {
  it('every rule has a row in a table of docs/rolling-deploys.md, and every row names a rule', () => {
    const guide = readFileSync(join(import.meta.dirname, '../../docs/rolling-deploys.md'), 'utf8');
    const documented = new Set(
      guide
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .flatMap((line) => [...line.split(' | ')[0]!.matchAll(/`([a-z-]+)`/g)].map((match) => match[1]!)),
    );
    const mentioned = new Set([...guide.matchAll(/`(fails-on-data)`/g)].map((match) => match[1]!));
    expect(CHECK_RULES.filter((rule) => !documented.has(rule) && !mentioned.has(rule))).toEqual([]);
    expect([...documented].filter((rule) => !(CHECK_RULES as readonly string[]).includes(rule))).toEqual([]);
  });
});
