import { describe, expect, it } from 'vitest';
import { PendingMigrationsError, TenantMigrationsError } from '../../lib/index.js';
import { describeConnectionTarget } from '../../lib/util/connection-target.js';
import { listNames } from '../../lib/util/name-list.js';
import { formatPlan, formatStatus } from '../../lib/cli/cli-output.js';

const names = (count: number) => Array.from({ length: count }, (_, i) => `M${1700000000000 + i}`);

describe('listNames', () => {
  it('lists a few names whole, and caps a long list with "… and N more"', () => {
    expect(listNames([])).toBe('none');
    expect(listNames(names(10))).toBe(names(10).join(', '));
    expect(listNames(names(278))).toBe(`${names(10).join(', ')} … and 268 more`);
    expect(listNames(names(5), 2)).toBe(`${names(2).join(', ')} … and 3 more`);
  });

  it('caps the messages of PendingMigrationsError and TenantMigrationsError; their fields keep every name', () => {
    const pending = new PendingMigrationsError({ default: names(138) });
    expect(pending.message).toContain(`${names(10).join(', ')} … and 128 more.`);
    expect(pending.message.length).toBeLessThan(400);
    expect(pending.pending['default']).toHaveLength(138);
    const tenants = new TenantMigrationsError(
      'default',
      names(30).map((tenant) => ({ tenant, error: 'boom' })),
      50,
    );
    expect(tenants.message).toContain(
      `failed for 30 of 50 tenants: ${names(10).join(', ')} … and 20 more. The other tenants are migrated.`,
    );
    expect(tenants.failed).toHaveLength(30);
  });
});

describe('describeConnectionTarget', () => {
  it('says type, host:port/database and user, never the password; the URL wins over the options', () => {
    expect(describeConnectionTarget({ type: 'postgres', url: 'postgres://app:hunter22@db.internal:6432/shop', host: 'ignored' })).toBe(
      'postgres db.internal:6432/shop, user "app"',
    );
    expect(describeConnectionTarget({ type: 'mariadb', host: '10.0.0.5', database: 'shop', username: 'root', password: 'hunter22' })).toBe(
      'mariadb 10.0.0.5:3306/shop, user "root"',
    );
    expect(describeConnectionTarget({ type: 'postgres' })).toBe(
      'postgres localhost:5432/(no database), no user name (no url and no host in its options: is the environment variable it reads set?)',
    );
    expect(describeConnectionTarget({ type: 'better-sqlite3', database: 'data/app.db' })).toBe('better-sqlite3 file data/app.db');
  });
});

describe('formatPlan', () => {
  it('shows, under a statement, the locks the shadow saw it take on live tables (not on tables the migrations created)', () => {
    const text = formatPlan([
      {
        dataSource: 'default',
        pending: 1,
        complete: true,
        migrations: [
          {
            name: 'Retype1700000000002',
            statements: [
              {
                sql: 'ALTER TABLE users ALTER COLUMN age TYPE bigint',
                locks: [
                  { schema: 'public', name: 'users', kind: 'table', mode: 'ACCESS EXCLUSIVE', rewritten: true },
                  { schema: 'public', name: 'users_age', kind: 'index', mode: 'ACCESS EXCLUSIVE', rewritten: true },
                ],
              },
              {
                sql: 'CREATE TABLE notes (id int)',
                locks: [{ schema: 'public', name: 'notes', kind: 'table', mode: 'ACCESS EXCLUSIVE', created: true }],
              },
            ],
          },
        ],
      },
    ]);
    expect(text.split('\n')).toEqual([
      '-- DataSource "default": 1 pending migration(s), dry run (rolled back)',
      '-- Retype1700000000002',
      'ALTER TABLE users ALTER COLUMN age TYPE bigint;',
      '--   in the shadow: ACCESS EXCLUSIVE on public.users (rewritten)',
      'CREATE TABLE notes (id int);',
    ]);
  });
});

describe('formatStatus', () => {
  it('names each INVALID index with the statement that removes it', () => {
    const text = formatStatus([
      {
        dataSource: 'default',
        applied: [],
        pending: [],
        unknown: [],
        outOfOrder: [],
        dirty: [],
        changed: [],
        invalidIndexes: [
          {
            index: 'public.items_v_unique',
            schema: 'public',
            name: 'items_v_unique',
            table: 'public.items',
            definition: 'CREATE UNIQUE INDEX items_v_unique ON public.items USING btree (v)',
            drop: 'DROP INDEX CONCURRENTLY public.items_v_unique',
          },
        ],
      },
    ]);
    expect(text.split('\n')).toEqual([
      'DataSource "default": 0 applied, 0 pending, 0 unknown',
      '  INVALID index public.items_v_unique on public.items (an interrupted CREATE INDEX CONCURRENTLY): remove it with DROP INDEX CONCURRENTLY public.items_v_unique',
    ]);
  });
});
