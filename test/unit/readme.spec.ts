import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveAutoMigratorOptions } from '../../lib/options/resolve-options.js';
import { OPTION_KEYS } from '../../lib/options/resolve-options.js';

const root = join(import.meta.dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function optionsTable(): Map<string, { type: string; default: string }> {
  const start = readme.indexOf('<!-- options-table:start -->');
  const end = readme.indexOf('<!-- options-table:end -->');
  expect(start).toBeGreaterThan(-1);
  expect(end).toBeGreaterThan(start);
  const rows = new Map<string, { type: string; default: string }>();
  for (const line of readme.slice(start, end).split('\n')) {
    const cells = line.split(/(?<!\\)\|/).map((cell) => cell.trim());
    const name = /^`(\w+)`$/.exec(cells[1] ?? '')?.[1];
    if (name) rows.set(name, { type: cells[2] ?? '', default: cells[3] ?? '' });
  }
  return rows;
}

describe('README agrees with the code', () => {
  it('the options table lists exactly the options the code accepts, in order', () => {
    expect([...optionsTable().keys()]).toEqual([...OPTION_KEYS]);
  });

  it("the table's defaults are the resolved defaults", () => {
    const table = optionsTable();
    const defaults = resolveAutoMigratorOptions({}, () => ({ value: undefined, source: 'test' }));
    expect(table.get('dataSources')?.default).toBe(`\`['${defaults.dataSources[0]!.name}']\``);
    expect(table.get('mode')?.default).toBe(`\`'${defaults.mode}'\``);
    expect(table.get('pendingCheckTtlMs')?.default).toBe(`\`${defaults.pendingCheckTtlMs}\``);
    expect(table.get('runMigrationsKey')?.default).toBe(`\`'RUN_MIGRATIONS'\``);
    expect(table.get('strategy')?.default).toContain('`FailFastStrategy`');
    expect(table.get('connectionCheck')?.default).toBe(
      `\`{ intervalMs: ${defaults.connectionCheck && defaults.connectionCheck.intervalMs}, timeoutMs: ${defaults.connectionCheck && defaults.connectionCheck.timeoutMs} }\``,
    );
  });

  it('the two set-up commands are the ones package.json and .ci/run use', () => {
    expect(readme).toContain('npm ci && npm start ');
    expect(readme).toContain('npm ci && npm test ');
    const ci = readFileSync(join(root, '.ci/run'), 'utf8');
    expect(ci.split('\n').filter((line) => line.startsWith('npm '))).toEqual(['npm ci && npm test']);
    const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['start']).toContain('sample-app/dist/main.js');
    expect(scripts['test']).toContain('vitest run');
  });

  it('the install line gives each Nest major its Terminus and Config majors (Nest 11: @nestjs/terminus@^11, @nestjs/config@^4)', () => {
    expect(readme).toContain('npm install @nestjs/terminus@^11 @nestjs/config@^4');
    expect(readme).toContain('npm install @nestjs/terminus@^12 @nestjs/config@^12');
    expect(readme).not.toMatch(/npm install @nestjs\/terminus @nestjs\/config/);
  });
});
