import { createHash } from 'node:crypto';
import { quoteLiteral } from '../../util/sql-identifier.js';
import type { DataSource } from 'typeorm';
import type { DataSourceSnapshot } from './build-snapshot.js';
import type { PreviousRelease } from './build-snapshot.js';
import { escapedTable, isMissingTable, selectIfTableExists } from '../../history/migrations-table.js';
import type { DataSourceMigrationRunner } from '../../runner/data-source-migration.runner.js';
import { mappedTables, type MappedTable } from './entity-tables.js';

/** The table, beside the migrations table, where each booting build records what it maps. */
export const RUNNING_BUILDS_TABLE = 'auto_migrator_builds';

/** A build as the registry identifies it: by what it maps (the same entities, the same build), with an optional label. */
export interface BuildIdentity {
  readonly id: string;
  readonly label?: string;
  readonly tables: readonly MappedTable[];
}

/** What this process's build maps on the DataSource, and its id: a hash of that mapping. */
export function currentBuild(dataSource: DataSource, label?: string): BuildIdentity {
  const tables = mappedTables(dataSource);
  const id = createHash('sha256').update(JSON.stringify(tables)).digest('hex').slice(0, 16);
  return { id, ...(label ? { label } : {}), tables };
}

/**
 * Records that this build booted (PostgreSQL): one statement, an upsert of its row (first seen,
 * last seen, what it maps); the table is created the first time. A failure is only logged: the
 * registry never stops an application from booting.
 */
export async function recordRunningBuild(runner: DataSourceMigrationRunner, label?: string): Promise<void> {
  const { dataSource, label: where } = runner.plan;
  if (dataSource.options.type !== 'postgres') return;
  try {
    await runner.ensureInitialized();
  } catch {
    return; // The run (or readiness) reports why it cannot connect.
  }
  const build = currentBuild(dataSource, label);
  const table = escapedTable(dataSource, dataSource.createQueryRunner(), RUNNING_BUILDS_TABLE);
  const upsert = () =>
    dataSource.query(
      `INSERT INTO ${table} (data_source, id, label, tables, first_seen, last_seen) VALUES ($1, $2, $3, $4, now(), now())
       ON CONFLICT (data_source, id) DO UPDATE SET last_seen = now(), label = coalesce(EXCLUDED.label, ${table}.label)`,
      [runner.plan.dataSourceName, build.id, build.label ?? null, JSON.stringify(build.tables)],
    );
  try {
    await upsert().catch(async (error: unknown) => {
      if (!isMissingTable(error)) throw error;
      await dataSource.query(
        `CREATE TABLE IF NOT EXISTS ${table} (data_source text NOT NULL, id text NOT NULL, label text, tables jsonb NOT NULL,
         first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL, PRIMARY KEY (data_source, id))`,
      );
      await upsert();
    });
  } catch (error) {
    runner.logger.warn(`${where}: could not record this build as running (${runner.redactor.message(error)}); check will not know of it`);
  }
}

/**
 * The builds recorded as booted within `windowMs` other than `current`: the releases that may
 * still be serving while the pending migrations run. None when the table does not exist.
 */
export async function readRunningBuilds(
  runner: DataSourceMigrationRunner,
  windowMs: number,
  current: string | undefined,
): Promise<PreviousRelease[]> {
  const { dataSource } = runner.plan;
  const rows = (await selectIfTableExists(
    dataSource,
    undefined,
    RUNNING_BUILDS_TABLE,
    (from) =>
      `SELECT id, label, tables, last_seen FROM ${from} WHERE data_source = ${quoteLiteral(runner.plan.dataSourceName)} ` +
      `AND last_seen > now() - interval '${Math.floor(windowMs)} milliseconds' ORDER BY last_seen DESC`,
    true,
  )) as Array<{ id: string; label: string | null; tables: MappedTable[] | string; last_seen: Date | string }>;
  return rows
    .filter((row) => row.id !== current)
    .map((row) => {
      const tables = typeof row.tables === 'string' ? (JSON.parse(row.tables) as MappedTable[]) : row.tables;
      const seen = new Date(row.last_seen).toISOString();
      const snapshot: DataSourceSnapshot = { dataSource: runner.plan.dataSourceName, tables };
      return { name: `the running build ${row.id}${row.label ? ` (${row.label})` : ''}, last booted ${seen},`, snapshot };
    });
}
