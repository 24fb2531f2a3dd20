import { describe, expect, it } from 'vitest';
import { isMissingModule } from '../../lib/util/missing-module.js';
import { loadOptionalPeer } from '../../lib/util/optional-peer.js';

describe('optional peers (@nestjs/config, @nestjs/terminus)', () => {
  it('loads an installed one and gives undefined for one that is not installed', () => {
    expect(loadOptionalPeer<{ TerminusModule: unknown }>('@nestjs/terminus')?.TerminusModule).toBeTypeOf('function');
    expect(loadOptionalPeer('@nestjs/am-not-installed')).toBeUndefined();
  });

  it('treats only the package itself as missing: a broken install (one of its dependencies missing) still throws', () => {
    const own = Object.assign(new Error("Cannot find module '@nestjs/terminus'\nRequire stack:\n- /app/dist/util/optional-peer.js"), {
      code: 'MODULE_NOT_FOUND',
    });
    const inner = Object.assign(
      new Error("Cannot find module 'check-disk-space'\nRequire stack:\n- /app/node_modules/@nestjs/terminus/dist/index.js"),
      { code: 'MODULE_NOT_FOUND' },
    );
    expect(isMissingModule(own, '@nestjs/terminus')).toBe(true);
    expect(isMissingModule(inner, '@nestjs/terminus')).toBe(false);
    expect(isMissingModule(new SyntaxError("Unexpected token 'export'"), '@nestjs/terminus')).toBe(false);
  });
});
