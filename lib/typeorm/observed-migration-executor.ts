import { Migration, MigrationExecutor, type DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Told what is recorded once the executor has read the migrations table, when each migration starts, and when it is applied. */
export interface MigrationObserver {
  /**
   * Reads the migrations recorded as applied (name and timestamp, oldest first) on the session
   * that holds the lock, before any transaction, and looks at what that leaves pending: a
   * rejection stops the run before anything runs.
   */
  recorded(queryRunner: QueryRunner): Promise<ReadonlyArray<{ readonly name: string; readonly timestamp: number }>>;
  /** Whether the migrations table exists (asked instead of TypeORM's own check; false: TypeORM creates it). */
  migrationsTableExists(queryRunner: QueryRunner): Promise<boolean>;
  /** Inside the migration's transaction, before its up(): a rejection stops it (the transaction rolls back). */
  started(name: string): Promise<void>;
  /**
   * Records the migration as applied, in its transaction if it has one: `insertRecord` writes
   * TypeORM's row; the observer writes what goes with it (with that row, or before or after it).
   */
  recordApplied(migration: { readonly name: string; readonly timestamp: number }, insertRecord: () => Promise<void>): Promise<void>;
  /** The migration is applied: recorded and, in a transaction of its own, committed ('all': recorded; one COMMIT ends the run). */
  applied(name: string): void;
}

/**
 * TypeORM's own MigrationExecutor (same ordering, transactions and bookkeeping), with a hook
 * around each migration so the runner can log it and keep the state current. What it logs
 * (TypeORM always logs a failed migration's raw error message) goes through the DataSource's
 * logger, which the module and the CLI made redacting (see redactDataSourceLogger). It reads the migrations table with one plain SELECT, and tells
 * the runner what is pending from that read: the only read under the lock.
 */
export class ObservedMigrationExecutor extends MigrationExecutor {
  constructor(
    dataSource: DataSource,
    queryRunner: QueryRunner | undefined,
    private readonly observer: MigrationObserver,
  ) {
    super(dataSource, queryRunner);
  }

  protected override getMigrations(): Migration[] {
    return super.getMigrations().map((migration) => {
      const original = migration.instance;
      if (!original) return migration;
      // A view of the user's instance (same name, transaction flag, down()) whose up() reports first.
      const observed = Object.create(original) as MigrationInterface;
      observed.up = async (queryRunner: QueryRunner) => {
        await this.observer.started(migration.name);
        return original.up(queryRunner);
      };
      migration.instance = observed;
      return migration;
    });
  }

  protected override async createMigrationsTableIfNotExist(queryRunner: QueryRunner): Promise<void> {
    if (await this.observer.migrationsTableExists(queryRunner)) return;
    // TypeORM creates it, without asking again: its hasTable reads information_schema.tables, which
    // on PostgreSQL scans every table of the database (about 4 ms per tenant with 1,000 tenants).
    await super.createMigrationsTableIfNotExist(withHasTable(queryRunner, false));
  }

  protected override async loadExecutedMigrations(queryRunner: QueryRunner): Promise<Migration[]> {
    const recorded = await this.observer.recorded(queryRunner);
    // Newest first, as TypeORM's own read returns them.
    return recorded.map(({ name, timestamp }, index) => new Migration(index + 1, timestamp, name)).reverse();
  }

  /** A migration recorded in its own transaction, told as applied once that commits. */
  private awaitingCommit: string | undefined;

  override async executePendingMigrations(): Promise<Migration[]> {
    const runner = this.queryRunner;
    if (!runner) return super.executePendingMigrations();
    // TypeORM commits a migration's own transaction right after recording it: it is applied only
    // then (a failed COMMIT applies nothing), so that is when the observer hears of it.
    const own = Object.getOwnPropertyDescriptor(runner, 'commitTransaction');
    const commit = runner.commitTransaction;
    runner.commitTransaction = async () => {
      await commit.call(runner);
      const name = this.awaitingCommit;
      if (name !== undefined && !runner.isTransactionActive) {
        this.awaitingCommit = undefined;
        this.observer.applied(name);
      }
    };
    try {
      return await super.executePendingMigrations();
    } finally {
      if (own) Object.defineProperty(runner, 'commitTransaction', own);
      else delete (runner as Partial<QueryRunner>).commitTransaction;
    }
  }

  protected override async insertExecutedMigration(queryRunner: QueryRunner, migration: Migration): Promise<void> {
    await this.observer.recordApplied(migration, () => super.insertExecutedMigration(queryRunner, migration));
    // Under 'all' one COMMIT ends the run (the run's summary line follows it); elsewhere a
    // transaction open here is the migration's own.
    if (queryRunner === this.queryRunner && queryRunner.isTransactionActive && this.transaction !== 'all')
      this.awaitingCommit = migration.name;
    else this.observer.applied(migration.name);
  }
}

/**
 * A migration's row in the migrations table, written as TypeORM's executor writes it (its table,
 * schema and columns): what `down` and `resolve` record, beside the runs' own executor.
 */
export class MigrationRecords {
  private readonly executor: MigrationExecutor;

  constructor(dataSource: DataSource, queryRunner: QueryRunner) {
    this.executor = new MigrationExecutor(dataSource, queryRunner);
  }

  insert(migration: Migration): Promise<void> {
    return this.executor.insertMigration(migration);
  }

  delete(migration: Migration): Promise<void> {
    return this.executor.deleteMigration(migration);
  }
}

/** The query runner, its hasTable answering `answer` without asking the database (every other member is the runner's own). */
function withHasTable(queryRunner: QueryRunner, answer: boolean): QueryRunner {
  return new Proxy(queryRunner, {
    get(target, key) {
      if (key === 'hasTable') return () => Promise.resolve(answer);
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
