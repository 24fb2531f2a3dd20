import { copyFile, mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Injectable, Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';

interface BetterSqlite3Connection {
  backup(destination: string): Promise<unknown>;
}

/**
 * File backups of an SQLite database, taken with SQLite's online backup API. A real app might
 * use pg_dump or a volume snapshot for PostgreSQL; this sample only backs up SQLite.
 */
@Injectable()
export class BackupService {
  private readonly logger = new Logger(BackupService.name);

  /** True when this DataSource is an SQLite file this service can back up. */
  supports(dataSource: DataSource): boolean {
    return dataSource.options.type === 'better-sqlite3' && this.file(dataSource) !== ':memory:';
  }

  /** Copies the database to `<file>.backup-<time>`; returns the copy's path. */
  async backup(dataSource: DataSource): Promise<string> {
    const file = this.file(dataSource);
    const target = join(dirname(file), `${Date.now()}-before-migrations.sqlite.bak`);
    await mkdir(dirname(target), { recursive: true });
    const connection = (dataSource.driver as unknown as { databaseConnection: BetterSqlite3Connection }).databaseConnection;
    await connection.backup(target);
    const { size } = await stat(target);
    this.logger.log(`Backed up ${file} to ${target} (${size} bytes)`);
    return target;
  }

  /** Puts a backup back in place: closes the DataSource, copies the file, reconnects. */
  async restore(dataSource: DataSource, backup: string): Promise<void> {
    const file = this.file(dataSource);
    await dataSource.destroy();
    await copyFile(backup, file);
    await dataSource.initialize();
    this.logger.warn(`Restored ${file} from ${backup}`);
  }

  private file(dataSource: DataSource): string {
    return String((dataSource.options as { database?: unknown }).database);
  }
}
