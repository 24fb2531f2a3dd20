import { SNAPSHOT_FORMAT, type BuildSnapshot, type DataSourceSnapshot } from './build-snapshot.js';
import { buildMigrations } from '../../plan/build-migrations.js';
import type { DataSourceMigrationRunner } from '../../runner/data-source-migration.runner.js';
import { mappedTables } from './entity-tables.js';

export type { BuildSnapshot, DataSourceSnapshot } from './build-snapshot.js';
export type { MappedColumn, MappedTable } from './entity-tables.js';

/** What this build's entities map on one DataSource, and the newest migration it has. Reads no table. */
export async function snapshotDataSource(runner: DataSourceMigrationRunner): Promise<DataSourceSnapshot> {
  await runner.ensureInitialized();
  const { dataSource, label } = runner.plan;
  const newest = buildMigrations(dataSource.migrations, label).at(-1)?.name;
  return { dataSource: runner.plan.dataSourceName, ...(newest ? { newestMigration: newest } : {}), tables: mappedTables(dataSource) };
}

/** A snapshot of this build, named `build`, over the given DataSources' snapshots. */
export function buildSnapshot(build: string, dataSources: readonly DataSourceSnapshot[]): BuildSnapshot {
  return { format: SNAPSHOT_FORMAT, build, createdAt: new Date().toISOString(), dataSources };
}
