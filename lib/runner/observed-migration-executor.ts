import { MigrationExecutor, type DataSource, type Migration, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Told when each migration starts and when it has been recorded as applied. */
export interface MigrationObserver {
  started(name: string): void;
  applied(name: string): void;
}

/**
 * TypeORM's own MigrationExecutor (same ordering, transactions and bookkeeping), with a hook
 * around each migration so the runner can log it and keep the state current.
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
      observed.up = (queryRunner: QueryRunner) => {
        this.observer.started(migration.name);
        return original.up(queryRunner);
      };
      migration.instance = observed;
      return migration;
    });
  }

  protected override async insertExecutedMigration(queryRunner: QueryRunner, migration: Migration): Promise<void> {
    await super.insertExecutedMigration(queryRunner, migration);
    this.observer.applied(migration.name);
  }
}
