import type { DataSource } from 'typeorm';

/** A column as an entity maps it, named as the database names it. */
export interface MappedColumn {
  readonly name: string;
  /** The database type TypeORM's driver gives it (e.g. `character varying`, `integer`). */
  readonly type: string;
  readonly nullable: boolean;
  /** The default the entity declares, as TypeORM's driver writes it in DDL; absent: none. */
  readonly default?: string;
  /** Filled by the database (`increment`, `uuid`, identity, or a generated column): the application does not insert it. */
  readonly generated: boolean;
}

/** A table the build's entities map, with the entities mapping it and their columns. */
export interface MappedTable {
  /** Absent: the DataSource's default schema (`search_path`). */
  readonly schema?: string;
  readonly table: string;
  readonly entities: readonly string[];
  readonly columns: readonly MappedColumn[];
}

/** Table kinds whose rows the application reads and writes (not views). */
const TABLE_KINDS = new Set(['regular', 'entity-child', 'junction', 'closure', 'closure-junction']);

/**
 * Every table the DataSource's entities map (its entityMetadatas, built when it initialized), with
 * their columns as the database names them; single-table inheritance children merge into their table.
 */
export function mappedTables(dataSource: DataSource): MappedTable[] {
  const tables = new Map<string, { schema?: string; table: string; entities: Set<string>; columns: Map<string, MappedColumn> }>();
  for (const entity of dataSource.entityMetadatas) {
    if (!TABLE_KINDS.has(entity.tableType)) continue;
    const key = `${entity.schema ?? ''}.${entity.tableName}`;
    let table = tables.get(key);
    if (!table) {
      table = { ...(entity.schema ? { schema: entity.schema } : {}), table: entity.tableName, entities: new Set(), columns: new Map() };
      tables.set(key, table);
    }
    table.entities.add(entity.name);
    for (const column of entity.columns) {
      if (column.isVirtualProperty || table.columns.has(column.databaseName)) continue;
      const defaultValue = dataSource.driver.normalizeDefault(column);
      table.columns.set(column.databaseName, {
        name: column.databaseName,
        type: dataSource.driver.normalizeType(column),
        nullable: column.isNullable,
        ...(defaultValue === undefined || defaultValue === null ? {} : { default: String(defaultValue) }),
        generated: column.isGenerated || column.generatedType !== undefined,
      });
    }
  }
  return [...tables.values()]
    .map(({ entities, columns, ...table }) => ({ ...table, entities: [...entities].sort(), columns: [...columns.values()] }))
    .sort((a, b) => `${a.schema ?? ''}.${a.table}`.localeCompare(`${b.schema ?? ''}.${b.table}`));
}
