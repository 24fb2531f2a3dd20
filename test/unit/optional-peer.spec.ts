import { describe, expect, it } from 'vitest';
import { isMissingModule } from '../../lib/util/missing-module.js';
import { loadOptionalPeer } from '../../lib/util/optional-peer.js';
import { AutoMigratorConfigError } from '../../lib/errors/auto-migrator-config.error.js';

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

describe('an optional peer that is an ES module where only CommonJS loads (Terminus 12 under Jest)', () => {
  /** A require as Jest's CommonJS runtime behaves with an ESM-only package installed. */
  const jestRequire = (id: string) => {
    if (id === '@nestjs/terminus/package.json') return { version: '12.1.0' };
    throw new SyntaxError("Unexpected token 'export'");
  };

  it('refuses with an AutoMigratorConfigError naming the installed version and the major to install for Nest 11', () => {
    let error: unknown;
    try {
      loadOptionalPeer('@nestjs/terminus', jestRequire);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AutoMigratorConfigError);
    expect((error as Error).message).toMatch(
      /^@nestjs\/terminus 12\.1\.0 is installed but cannot be loaded here: it is an ES module.*npm install @nestjs\/terminus@\^11/,
    );
    expect((error as Error).cause).toBeInstanceOf(SyntaxError);
    expect(() =>
      loadOptionalPeer('@nestjs/config', (id) => {
        throw Object.assign(new Error(`require() of ES Module ${id} not supported`), { code: 'ERR_REQUIRE_ESM' });
      }),
    ).toThrow(/@nestjs\/config is installed but cannot be loaded here.*npm install @nestjs\/config@\^4/);
  });

  it('another error from an installed peer is thrown as it is', () => {
    const broken = new TypeError('x is not a function');
    expect(() =>
      loadOptionalPeer('@nestjs/terminus', () => {
        throw broken;
      }),
    ).toThrow(broken);
  });
});
