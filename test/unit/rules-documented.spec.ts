import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RULES, type RuleDefinition } from '../../lib/check/rules/registry.js';

const GUIDE = join(import.meta.dirname, '../../docs/rolling-deploys.md');

/** Each family's table in the guide, as the registry says it: header and one row per rule. */
const TABLES: Record<RuleDefinition['family'], { header: readonly string[]; row: (rule: RuleDefinition) => readonly string[] }> = {
  lock: {
    header: ['rule', 'found when', 'lock, and what it blocks', 'instead', 'MySQL/MariaDB'],
    row: (rule) => [
      `\`${rule.id}\`${rule.severity === 'by size' ? '' : ` (${rule.severity})`}`,
      rule.foundWhen,
      rule.hazard,
      rule.instead,
      rule.mysql,
    ],
  },
  compatibility: {
    header: [
      'rule',
      'severity',
      'found when the previous release maps the table or column and a pending migration',
      "what the previous release's pods meet",
      'instead',
      'MySQL/MariaDB',
    ],
    row: (rule) => [`\`${rule.id}\``, rule.severity, rule.foundWhen, rule.hazard, rule.instead, rule.mysql],
  },
  data: {
    header: ['rule', 'severity', 'found when', 'what happens', 'instead', 'MySQL/MariaDB'],
    row: (rule) => [`\`${rule.id}\``, rule.severity, rule.foundWhen, rule.hazard, rule.instead, rule.mysql],
  },
  schema: {
    header: ['rule', 'severity', 'found when', 'what happens', 'instead', 'MySQL/MariaDB'],
    row: (rule) => [`\`${rule.id}\``, rule.severity, rule.foundWhen, rule.hazard, rule.instead, rule.mysql],
  },
};

function table(family: RuleDefinition['family']): string {
  const { header, row } = TABLES[family];
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(header),
    `|${header.map(() => '---').join('|')}|`,
    ...RULES.filter((rule) => rule.family === family).map((rule) => line(row(rule))),
  ].join('\n');
}

describe("check's rules: one registry, and the guide's tables written from it", () => {
  it('each rule once, by the id it is registered under; every example has an unsafe and a safe run', () => {
    expect(new Set(RULES.map((rule) => rule.id)).size).toBe(RULES.length);
    for (const rule of RULES) {
      expect(rule.example.unsafe.length, rule.id).toBeGreaterThan(0);
      expect(rule.example.safe.length, rule.id).toBeGreaterThan(0);
    }
  });

  it('docs/rolling-deploys.md holds each family table as the registry writes it (UPDATE_RULE_TABLES=1 rewrites them)', () => {
    let guide = readFileSync(GUIDE, 'utf8');
    for (const family of Object.keys(TABLES) as Array<RuleDefinition['family']>) {
      const start = `<!-- rules: ${family} (written from lib/check/rules/registry.ts) -->\n`;
      const end = `\n<!-- /rules: ${family} -->`;
      const at = guide.indexOf(start);
      const to = guide.indexOf(end, at);
      expect(at, `the guide has no "${start.trim()}" marker`).toBeGreaterThanOrEqual(0);
      const expected = table(family);
      if (process.env['UPDATE_RULE_TABLES'] === '1') guide = guide.slice(0, at + start.length) + expected + guide.slice(to);
      else expect(guide.slice(at + start.length, to)).toBe(expected);
    }
    if (process.env['UPDATE_RULE_TABLES'] === '1') writeFileSync(GUIDE, guide);
  });
});
