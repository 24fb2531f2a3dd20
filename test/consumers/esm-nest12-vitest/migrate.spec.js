// An ESM Nest 12 application's Vitest spec: no @nestjs/terminus, no @nestjs/config installed.
import 'reflect-metadata';
import { createRequire } from 'node:module';
import { Test } from '@nestjs/testing';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { afterAll, expect, it } from 'vitest';
import * as library from 'nestjs-auto-migrator';
import { AutoMigratorModule, AutoMigratorService, MigrationsHealthIndicator, MigrationStrategy } from 'nestjs-auto-migrator';

const require = createRequire(import.meta.url);
const { CreateWidgets1700000000000, installed, migratedState } = require('./widgets.cjs');

let moduleRef;
afterAll(async () => {
  await moduleRef?.close();
});

it('has neither optional peer installed', () => {
  for (const name of ['@nestjs/terminus', '@nestjs/config']) {
    expect(() => require.resolve(name)).toThrow(/Cannot find module/);
  }
});

it('gets the same classes from require and import (one copy)', () => {
  const required = require('nestjs-auto-migrator');
  expect(required.AutoMigratorModule).toBe(AutoMigratorModule);
  expect(required.AutoMigratorService).toBe(AutoMigratorService);
  expect(required.MigrationStrategy).toBe(MigrationStrategy);
  expect(
    Object.keys(library)
      .filter((name) => name !== 'default')
      .sort(),
  ).toEqual(Object.keys(required).sort());
});

it('boots, migrates through RUN_MIGRATIONS from process.env, and reports ready without Terminus', async () => {
  process.env.RUN_MIGRATIONS = 'true';
  moduleRef = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({ type: 'postgres', url: process.env.DATABASE_URL, migrations: [CreateWidgets1700000000000] }),
      AutoMigratorModule.forRoot({}),
    ],
  }).compile();
  await moduleRef.init();

  expect(await migratedState(moduleRef.get(getDataSourceToken()))).toEqual({
    tables: ['migrations', 'migrations_checksums', 'widgets'],
    recorded: ['CreateWidgets1700000000000'],
  });
  expect(await moduleRef.get(MigrationsHealthIndicator).isReady()).toEqual({
    migrations: { status: 'up', dataSources: expect.any(Object) },
  });
  console.log(`CONSUMER typeorm ${installed('typeorm')}, @nestjs/core ${installed('@nestjs/core')}`);
});
