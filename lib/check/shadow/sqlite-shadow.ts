import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { connect, disconnect, ShadowDatabase, type ShadowContext } from './shadow-database.js';

/**
 * SQLite, a shadow for a replay of the history: a new database file in the system's temporary
 * directory, opened with the live DataSource's options, removed at the end. It shares nothing with
 * the live file (a statement that could reach it, ATTACH, is refused by the replay's guard).
 */
export async function openSqliteShadow(live: DataSource, context: ShadowContext): Promise<ShadowDatabase> {
  const file = join(tmpdir(), `auto_migrator_shadow_${Date.now().toString(36)}_${process.pid}_${randomBytes(3).toString('hex')}.sqlite`);
  const remove = () =>
    Promise.all(['', '-wal', '-shm', '-journal'].map((suffix) => rm(`${file}${suffix}`, { force: true }))).then(() => undefined);
  let connected: Awaited<ReturnType<typeof connect>>;
  try {
    connected = await connect(live, { database: file }, context);
  } catch (error) {
    await remove();
    throw error;
  }
  context.logger.log(`${context.label}: the applied migrations are replayed in a temporary database file, ${file}`);
  return new ShadowDatabase(connected.dataSource, connected.queryRunner, undefined, `temporary database file ${file}`, true, async () => {
    await disconnect(connected);
    await remove();
  });
}
