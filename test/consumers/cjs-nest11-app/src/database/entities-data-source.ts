// The DataSource with the application's entities, as TypeORM's CLI generates migrations from it.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { Widget } from '../widgets/widget.entity';
import { CreateWidgets1700000000000 } from './migrations/1700000000000-CreateWidgets';

export const AppDataSource = new DataSource({
  type: 'postgres',
  url: process.env.DATABASE_URL,
  entities: [Widget],
  migrations: [CreateWidgets1700000000000],
});
