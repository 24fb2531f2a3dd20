// The application's end-to-end spec, as `nest new` lays it out (test/*.e2e-spec.ts, Jest + ts-jest).
// DATABASE_URL and RUN_MIGRATIONS=true come from the environment.
import { readFileSync } from 'node:fs';
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { AutoMigratorService } from 'nestjs-auto-migrator';
import { AppModule } from '../src/app.module';

jest.setTimeout(60_000);

/** The installed version of a package (typeorm's exports map hides its package.json). */
function installed(name: string): string {
  return JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')).version;
}

describe('AppModule (e2e)', () => {
  let app: INestApplication | undefined;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication();
    app.setGlobalPrefix('api');
    await app.listen(0, '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
  });

  it('migrates at boot and reports ready through the global MigrationsHealthIndicator', async () => {
    const url = await app!.getUrl();
    const live = await fetch(`${url}/api/health/live`);
    expect(live.status).toBe(200);

    const ready = await fetch(`${url}/api/health/ready`);
    const body = await ready.json();
    expect(ready.status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.info.migrations.status).toBe('up');

    const dataSource = app!.get(DataSource);
    const [widgets] = await dataSource.query("SELECT to_regclass('public.widgets') AS name");
    expect(widgets.name).toBe('widgets');
    const recorded = await dataSource.query('SELECT name FROM migrations ORDER BY id');
    expect(recorded.map((row: { name: string }) => row.name)).toEqual(['CreateWidgets1700000000000']);
    console.log(`CONSUMER typeorm ${installed('typeorm')}, @nestjs/core ${installed('@nestjs/core')}`);
  });

  it("check and snapshot run inside the application's own Jest tests (PostgreSQL's parser loads without --experimental-vm-modules)", async () => {
    const service = app!.get(AutoMigratorService);
    const snapshot = await service.snapshot({ build: 'consumer' });
    expect(snapshot.dataSources[0]!.newestMigration).toBe('CreateWidgets1700000000000');
    // Make the migration pending again, so check parses its SQL; then up applies it again (the CLI checks follow).
    const dataSource = app!.get(DataSource);
    await dataSource.query('DROP TABLE widgets');
    await dataSource.query('DELETE FROM migrations');
    const [result] = await service.check();
    expect(result).toMatchObject({ dataSource: 'default', findings: [], checked: ['CreateWidgets1700000000000'], unchecked: [] });
    const [up] = await service.up();
    expect(up).toMatchObject({ dataSource: 'default', status: 'done', applied: ['CreateWidgets1700000000000'] });
  });
});
