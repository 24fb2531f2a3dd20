import { describe, expect, it } from 'vitest';
import { parseSnapshot, SNAPSHOT_FORMAT } from '../../lib/check/snapshot/build-snapshot.js';
import { AutoMigratorConfigError } from '../../lib/errors/auto-migrator-config.error.js';

const valid = {
  format: SNAPSHOT_FORMAT,
  build: 'app@1.4.0',
  createdAt: '2026-12-01T00:00:00.000Z',
  dataSources: [
    {
      dataSource: 'default',
      newestMigration: 'AddNotes1733000000003',
      tables: [
        {
          schema: 'app',
          table: 'users',
          entities: ['User'],
          columns: [{ name: 'email', type: 'character varying', nullable: false, default: "''::character varying", generated: false }],
        },
      ],
    },
  ],
};

describe('a snapshot file, read back (no database)', () => {
  it('a file snapshot wrote reads back as it was', () => {
    expect(parseSnapshot(JSON.stringify(valid), 'release.json')).toEqual(valid);
  });

  it.each([
    ['not JSON', '{', /--snapshot release\.json: not JSON/],
    [
      'another format',
      JSON.stringify({ ...valid, format: 'v0' }),
      /not a snapshot of this library \(format is not "nestjs-auto-migrator\/snapshot@1"\)/,
    ],
    ['no build', JSON.stringify({ ...valid, build: 3 }), /"build" and "createdAt" must be strings/],
    [
      'tables not a list',
      JSON.stringify({ ...valid, dataSources: [{ dataSource: 'default', tables: {} }] }),
      /dataSources\[0\] needs "dataSource" and "tables"/,
    ],
    [
      'a column without nullable',
      JSON.stringify({
        ...valid,
        dataSources: [
          {
            dataSource: 'default',
            tables: [{ table: 'users', entities: [], columns: [{ name: 'email', type: 'text', generated: false }] }],
          },
        ],
      }),
      /dataSources\[0\]\.tables\[0\]\.columns\[0\] needs "name", "type" \(strings\), "nullable", "generated"/,
    ],
  ])('%s: a configuration error naming the file, the place and how to write it again', (_case, text, message) => {
    const read = () => parseSnapshot(text, 'release.json');
    expect(read).toThrow(AutoMigratorConfigError);
    expect(read).toThrow(message);
    expect(read).toThrow(/Write it again with "auto-migrator snapshot --out release\.json"/);
  });
});
