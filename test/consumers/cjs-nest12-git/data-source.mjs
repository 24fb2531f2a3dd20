// An ESM data source file for the CLI (a CommonJS bin loading it with a real dynamic import()).
import { DataSource } from 'typeorm';
import widgets from './widgets.cjs';

export default new DataSource({ type: 'postgres', url: process.env.DATABASE_URL, migrations: [widgets.CreateWidgets1700000000000] });
