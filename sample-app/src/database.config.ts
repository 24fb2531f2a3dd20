import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigService } from '@nestjs/config';
import type { TypeOrmModuleOptions } from '@nestjs/typeorm';

/** sample-app/ (this file runs from sample-app/dist/). */
export const SAMPLE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * PostgreSQL when DATABASE_URL is set; otherwise an embedded SQLite file
 * (SQLITE_PATH, default sample-app/data/sample.sqlite).
 */
export function databaseOptions(config: ConfigService): TypeOrmModuleOptions {
  const migrations = [join(SAMPLE_ROOT, 'dist', 'migrations', '*.js')];
  const url = config.get<string>('DATABASE_URL');
  if (url) {
    return { type: 'postgres', url, migrations, retryAttempts: 3, retryDelay: 1000 };
  }
  const database = config.get<string>('SQLITE_PATH') ?? join(SAMPLE_ROOT, 'data', 'sample.sqlite');
  mkdirSync(dirname(database), { recursive: true });
  return { type: 'better-sqlite3', database, migrations };
}
