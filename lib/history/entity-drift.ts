import type { DataSource } from 'typeorm';

/**
 * The entities against the live schema, as TypeORM's own schema builder sees it: the statements
 * `migration:generate` would put in a new migration's up(). None when the schema holds what the
 * entities map; some when an entity changed and no migration was generated (the build's first
 * query on what is missing would fail), or the schema was changed by hand.
 */
export interface EntityDrift {
  /** How many entities (tables and views) of the DataSource the schema builder compares. */
  readonly entities: number;
  /** The statements, in the order a generated migration would run them. */
  readonly statements: readonly string[];
  /** Why the entities were not compared, when they were not. */
  readonly notCompared?: string;
}

/**
 * Reads {@link EntityDrift} without writing: the schema builder reads the tables the entities map,
 * then records, without sending, what it would change (the log `migration:generate` writes from).
 */
export async function readEntityDrift(dataSource: DataSource): Promise<EntityDrift> {
  const entities = dataSource.entityMetadatas.filter((metadata) => metadata.synchronize && metadata.tableType !== 'entity-child').length;
  if (entities === 0) return { entities, statements: [] };
  const sql = await dataSource.driver.createSchemaBuilder().log();
  return { entities, statements: sql.upQueries.map((query) => query.query) };
}
