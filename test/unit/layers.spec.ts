import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const lib = resolve(import.meta.dirname, '../../lib');

/**
 * The data path, bottom first: options → plan → history (what the table says) → lock → strategy →
 * executor (runner) → events → state → tenants → check → operations → health / CLI → the module. A file may
 * import from its own layer and those below it, never from one above.
 */
const LAYERS: ReadonlyArray<readonly string[]> = [
  ['util', 'errors', 'contracts', 'auto-migrator.constants.ts', 'package.json'],
  ['typeorm'],
  ['options'],
  ['plan'],
  ['history'],
  ['lock'],
  ['strategies'],
  ['events'],
  ['runner'],
  ['state'],
  ['tenants'],
  // check and plan, one feature over the runner: rules, the SQL's reading, the shadow, the dry run, snapshots.
  ['check'],
  ['operations'],
  ['health'],
  ['option-instances.ts', 'auto-migrator.module-definition.ts', 'auto-migrator.service.ts', 'auto-migrator.module.ts'],
  ['cli', 'index.ts'],
];

function layerOf(file: string): number {
  const top = relative(lib, file).split('/')[0]!;
  const layer = LAYERS.findIndex((names) => names.includes(top));
  if (layer < 0) throw new Error(`lib/${relative(lib, file)}: its folder "${top}" is in no layer; add it to LAYERS`);
  return layer;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('layers point down', () => {
  it('no file in lib/ imports from a layer above its own', () => {
    const upward: string[] = [];
    for (const file of sources(lib)) {
      const text = readFileSync(file, 'utf8');
      for (const [, specifier] of text.matchAll(/(?:import|export)[^'";]*?from\s*'(\.[^']+)'/g)) {
        const target = resolve(dirname(file), specifier!.replace(/\.js$/, '.ts'));
        if (layerOf(target) > layerOf(file)) upward.push(`lib/${relative(lib, file)} -> lib/${relative(lib, target)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('the check feature is entered through lib/check/index.ts alone', () => {
    const inside: string[] = [];
    for (const file of sources(lib)) {
      if (relative(lib, file).startsWith('check/')) continue;
      const text = readFileSync(file, 'utf8');
      for (const [, specifier] of text.matchAll(/(?:import|export)[^'";]*?from\s*'(\.[^']+)'/g)) {
        const target = relative(lib, resolve(dirname(file), specifier!));
        if (target.startsWith('check/') && target !== 'check/index.js') inside.push(`lib/${relative(lib, file)} -> lib/${target}`);
      }
    }
    expect(inside).toEqual([]);
  });
});
