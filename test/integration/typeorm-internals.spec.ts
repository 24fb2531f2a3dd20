// Every TypeORM internal lib/typeorm/ relies on, checked on the TypeORM this suite runs with (npm
// test runs it on TypeORM 1.x and on the oldest 0.3 we support): a release that moves one fails
// here, not in an application.
import { stripVTControlCharacters } from 'node:util';
import { DataSource, type Logger, type MigrationInterface, type QueryRunner } from 'typeorm';
import { expect, it } from 'vitest';
import { connectionSocket, discardConnection, driverPool } from '../../lib/typeorm/driver-connection.js';
import {
  declaredTransaction,
  driverClients,
  escapeTablePath,
  knownMigrations,
  loadMigrationsUnconnected,
  sqliteConnectionClass,
  transactionDepth,
} from '../../lib/typeorm/migration-internals.js';
import { ObservedMigrationExecutor } from '../../lib/typeorm/observed-migration-executor.js';
import { redactDataSourceLogger } from '../../lib/typeorm/redacting-logger.js';
import { SecretRedactor } from '../../lib/util/secret-redactor.js';
import { tenantDataSource } from '../../lib/typeorm/tenant-data-source.js';
import { describeEachDatabase } from '../support/database-suite.js';

class CreateThings1700000000001 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE things (id INT PRIMARY KEY)');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE things');
  }
}

class Refused1700000000003 implements MigrationInterface {
  async up(): Promise<void> {
    throw new Error('password hunter2 was refused');
  }
  async down(): Promise<void> {}
}

class OutsideTransaction1700000000002 implements MigrationInterface {
  transaction = false;
  async up(): Promise<void> {}
  async down(): Promise<void> {}
}

/** A TypeORM logger keeping the migration messages it is given. */
function migrationLog(): Logger & { readonly messages: string[] } {
  const messages: string[] = [];
  return {
    messages,
    logQuery: () => undefined,
    logQueryError: () => undefined,
    logQuerySlow: () => undefined,
    logSchemaBuild: () => undefined,
    logMigration: (message: string) => void messages.push(message),
    log: () => undefined,
  };
}

describeEachDatabase('the TypeORM internals lib/typeorm uses', (t) => {
  async function connect(extra: Record<string, unknown> = {}): Promise<DataSource> {
    const dataSource = new DataSource({
      ...t.db.options,
      migrations: [CreateThings1700000000001, OutsideTransaction1700000000002],
      ...extra,
    } as never);
    await dataSource.initialize();
    return dataSource;
  }

  it("MigrationExecutor: our subclass's overrides are called, and TypeORM logs through the DataSource's logger as it is at each call (what redactDataSourceLogger replaces)", async () => {
    const logger = migrationLog();
    const dataSource = await connect({
      logger,
      migrations: [CreateThings1700000000001, OutsideTransaction1700000000002, Refused1700000000003],
    });
    redactDataSourceLogger(dataSource, new SecretRedactor(['hunter2']));
    try {
      const queryRunner = dataSource.createQueryRunner();
      const seen: string[] = [];
      try {
        const executor = new ObservedMigrationExecutor(dataSource, queryRunner, {
          // False: TypeORM checks for the table itself and creates it.
          migrationsTableExists: async () => {
            seen.push('asked for the migrations table');
            return false;
          },
          recorded: async (runner) => {
            seen.push(`recorded on the given runner: ${runner === queryRunner}`);
            return [];
          },
          started: async (name) => void seen.push(`started ${name}`),
          recordApplied: async ({ name }, insertRecord) => {
            await insertRecord();
            seen.push(`recorded ${name}`);
          },
          applied: (name) => void seen.push(`applied ${name}`),
        });
        executor.transaction = 'each';
        await expect(executor.executePendingMigrations()).rejects.toThrow('password hunter2 was refused');
      } finally {
        await queryRunner.release();
      }
      expect(seen).toEqual([
        'asked for the migrations table',
        'recorded on the given runner: true',
        'started CreateThings1700000000001',
        'recorded CreateThings1700000000001',
        'applied CreateThings1700000000001',
        'started OutsideTransaction1700000000002',
        'recorded OutsideTransaction1700000000002',
        'applied OutsideTransaction1700000000002',
        'started Refused1700000000003',
      ]);
      expect(await t.db.recorded()).toEqual(['CreateThings1700000000001', 'OutsideTransaction1700000000002']);
      // TypeORM's own line about the failure went through the redacting logger.
      expect(logger.messages.join('\n')).toContain('password *** was refused');
      expect(logger.messages.join('\n')).not.toContain('hunter2');
    } finally {
      await dataSource.destroy();
    }
  });

  it("the migration list (getMigrations), loading migrations without connecting, and a migration's own transaction setting", async () => {
    const unconnected = new DataSource({
      ...t.db.options,
      migrations: [OutsideTransaction1700000000002, CreateThings1700000000001],
    } as never);
    const loaded = await loadMigrationsUnconnected(unconnected);
    expect(loaded.map((migration) => migration.constructor.name)).toEqual(['OutsideTransaction1700000000002', 'CreateThings1700000000001']);
    const dataSource = await connect();
    try {
      const known = knownMigrations(dataSource);
      expect(known.map(({ name, timestamp }) => [name, timestamp])).toEqual([
        ['CreateThings1700000000001', 1700000000001],
        ['OutsideTransaction1700000000002', 1700000000002],
      ]);
      expect(known.map((migration) => declaredTransaction(migration.instance))).toEqual([undefined, false]);
    } finally {
      await dataSource.destroy();
    }
  });

  it("the query runner: escapePath, transactionDepth, and the driver's connection (its socket; closed for good on discard)", async () => {
    const dataSource = await connect();
    try {
      const queryRunner = dataSource.createQueryRunner();
      await queryRunner.connect();
      const quote = t.kind === 'mariadb' ? '`' : '"';
      expect(escapeTablePath(queryRunner, 'migrations')).toBe(`${quote}migrations${quote}`);
      expect(transactionDepth(queryRunner)).toBe(0);
      await queryRunner.startTransaction();
      expect(transactionDepth(queryRunner)).toBe(1);
      await queryRunner.rollbackTransaction();
      expect(transactionDepth(queryRunner)).toBe(0);
      if (t.kind === 'sqlite') {
        expect(connectionSocket(queryRunner)).toBeUndefined();
        expect(typeof sqliteConnectionClass(dataSource)).toBe('function');
        await queryRunner.release();
        return;
      }
      const socket = connectionSocket(queryRunner);
      expect(socket?.remotePort).toBe(Number(new URL(t.db.url).port));
      await discardConnection(queryRunner);
      await expect.poll(() => socket?.destroyed, { timeout: 5_000 }).toBe(true);
      // The pool's other connections still work.
      expect(await dataSource.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await dataSource.destroy();
    }
  });

  it("the driver's pool classes and settings (a probe connection outside the pool), and the tenant view's schema", async () => {
    const dataSource = await connect();
    try {
      const clients = driverClients<{ connect(): Promise<void>; query(sql: string): Promise<unknown>; end(): Promise<void> }, unknown>(
        dataSource,
      );
      if (t.kind === 'postgres') {
        const Client = clients.pg?.Client;
        expect(typeof Client).toBe('function');
        const client = new Client!(clients.pg?.options);
        await client.connect();
        await client.end();
        const view = tenantDataSource(dataSource, 'tenant_a', [], undefined);
        expect([
          view.driver.schema,
          (view.options as { schema?: string }).schema,
          (view.driver.options as { schema?: string }).schema,
        ]).toEqual(['tenant_a', 'tenant_a', 'tenant_a']);
        // What TypeORM's query runners read back from the driver is the view.
        const fields = view.driver as unknown as { dataSource?: DataSource; connection?: DataSource };
        expect(fields.dataSource ?? fields.connection).toBe(view);
        // One pool (driver.master) for the DataSource and its tenant views: what per-pool caches key on.
        const pool = driverPool(dataSource);
        expect(pool).toBeTypeOf('object');
        expect(driverPool(view)).toBe(pool);
      } else if (t.kind === 'mariadb') {
        expect(typeof clients.mysql?.Connection).toBe('function');
        expect(clients.mysql?.config).toBeTypeOf('object');
      } else {
        expect(clients).toEqual({ pg: undefined, mysql: undefined });
      }
    } finally {
      await dataSource.destroy();
    }
  });

  it("TypeORM's own loggers: a query line they drop (logging off) is not redacted first; one they log is (AbstractLogger's logQuery and isLogEnabledFor, TypeORM 0.3.12 and later)", async () => {
    class CountingRedactor extends SecretRedactor {
      calls = 0;
      override redact(text: string): string {
        this.calls++;
        return super.redact(text);
      }
    }
    const typeorm = (await import('typeorm')) as { AbstractLogger?: unknown };
    for (const logging of [false, 'all'] as const) {
      const dataSource = await connect({ logging });
      const redactor = new CountingRedactor(['hunter2']);
      redactDataSourceLogger(dataSource, redactor);
      const printed: unknown[] = [];
      const log = console.log;
      console.log = (...line: unknown[]) => void printed.push(line.join(' '));
      try {
        await dataSource.query("SELECT 'hunter2' AS secret");
      } finally {
        console.log = log;
        await dataSource.destroy();
      }
      if (logging === false) {
        // 0.3.11 has no AbstractLogger: its loggers are not known to drop a line, which is redacted.
        if (typeorm.AbstractLogger === undefined) expect(redactor.calls).toBeGreaterThan(0);
        else expect(redactor.calls).toBe(0);
        expect(printed).toEqual([]);
      } else {
        expect(redactor.calls).toBeGreaterThan(0);
        // TypeORM highlights the SQL where colours are on (CI): read without them.
        expect(stripVTControlCharacters(printed.join('\n'))).toContain("SELECT '***' AS secret");
        expect(printed.join('\n')).not.toContain('hunter2');
      }
    }
  });
});
