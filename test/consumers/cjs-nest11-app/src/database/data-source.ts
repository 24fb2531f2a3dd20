// The DataSource the CLIs load (TypeORM's, and `auto-migrator status --data-source src/database/data-source.ts`).
import { DataSource } from 'typeorm';
import { CreateWidgets1700000000000 } from './migrations/1700000000000-CreateWidgets';

export const AppDataSource = new DataSource({
  type: 'postgres',
  url: process.env.DATABASE_URL,
  migrations: [CreateWidgets1700000000000],
});
