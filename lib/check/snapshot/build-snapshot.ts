import { AutoMigratorConfigError } from '../../errors/auto-migrator-config.error.js';
import type { MappedColumn, MappedTable } from './entity-tables.js';

/** What a snapshot file says it is: the first key checked when one is read. */
export const SNAPSHOT_FORMAT = 'nestjs-auto-migrator/snapshot@1';

/**
 * What one build's entities map, per DataSource: written at release by `auto-migrator snapshot`
 * and committed; `check --snapshot` holds the next build's pending migrations against it.
 */
export interface BuildSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  /** The build: its package version, or what `--build` named. */
  readonly build: string;
  readonly createdAt: string;
  readonly dataSources: readonly DataSourceSnapshot[];
}

export interface DataSourceSnapshot {
  readonly dataSource: string;
  /** The newest migration of that build: what its schema is at. */
  readonly newestMigration?: string;
  readonly tables: readonly MappedTable[];
}

/**
 * A snapshot file's text, checked: throws an AutoMigratorConfigError naming the file, the place in
 * it and what to do, rather than comparing against something half read.
 */
export function parseSnapshot(text: string, file: string): BuildSnapshot {
  const wrong = (what: string) =>
    new AutoMigratorConfigError(
      `--snapshot ${file}: ${what}. Write it again with "auto-migrator snapshot --out ${file}" from the release it describes.`,
    );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw wrong(`not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const root = record(value);
  if (root?.['format'] !== SNAPSHOT_FORMAT) throw wrong(`not a snapshot of this library (format is not "${SNAPSHOT_FORMAT}")`);
  if (typeof root['build'] !== 'string' || typeof root['createdAt'] !== 'string') throw wrong('"build" and "createdAt" must be strings');
  if (!Array.isArray(root['dataSources'])) throw wrong('"dataSources" must be a list');
  const dataSources = root['dataSources'].map((entry: unknown, index) => {
    const at = `dataSources[${index}]`;
    const dataSource = record(entry);
    if (typeof dataSource?.['dataSource'] !== 'string' || !Array.isArray(dataSource['tables']))
      throw wrong(`${at} needs "dataSource" and "tables"`);
    const newest = dataSource['newestMigration'];
    if (newest !== undefined && typeof newest !== 'string') throw wrong(`${at}.newestMigration must be a string`);
    const tables = dataSource['tables'].map((table: unknown, t) => mappedTable(table, `${at}.tables[${t}]`, wrong));
    return { dataSource: dataSource['dataSource'], ...(newest === undefined ? {} : { newestMigration: newest }), tables };
  });
  return { format: SNAPSHOT_FORMAT, build: root['build'], createdAt: root['createdAt'], dataSources };
}

function mappedTable(value: unknown, at: string, wrong: (what: string) => Error): MappedTable {
  const table = record(value);
  const schema = table?.['schema'];
  if (typeof table?.['table'] !== 'string' || (schema !== undefined && typeof schema !== 'string'))
    throw wrong(`${at} needs "table" (and "schema", if any) as strings`);
  if (!Array.isArray(table['entities']) || !table['entities'].every((name) => typeof name === 'string'))
    throw wrong(`${at}.entities must be a list of names`);
  if (!Array.isArray(table['columns'])) throw wrong(`${at}.columns must be a list`);
  const columns = table['columns'].map((entry: unknown, c): MappedColumn => {
    const column = record(entry);
    const fault =
      typeof column?.['name'] !== 'string' ||
      typeof column['type'] !== 'string' ||
      typeof column['nullable'] !== 'boolean' ||
      typeof column['generated'] !== 'boolean' ||
      (column['default'] !== undefined && typeof column['default'] !== 'string');
    if (fault)
      throw wrong(
        `${at}.columns[${c}] needs "name", "type" (strings), "nullable", "generated" (booleans) and "default" (a string, if any)`,
      );
    const { name, type, nullable, generated } = column as { name: string; type: string; nullable: boolean; generated: boolean };
    return { name, type, nullable, generated, ...(typeof column['default'] === 'string' ? { default: column['default'] } : {}) };
  });
  return { ...(typeof schema === 'string' ? { schema } : {}), table: table['table'], entities: table['entities'] as string[], columns };
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** A previous release, as `check` compares against it: its name, and each table it maps as the catalog resolves it. */
export interface PreviousRelease {
  /** How findings name it: e.g. `build 1.4.0 (snapshot release.json)`. */
  readonly name: string;
  readonly snapshot: DataSourceSnapshot;
}
