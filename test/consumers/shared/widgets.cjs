// Copied beside every consumer app by consumers.spec.ts: the one migration they run, what it
// leaves in the database, and the versions the app really installed.
const { readFileSync } = require('node:fs');

class CreateWidgets1700000000000 {
  name = 'CreateWidgets1700000000000';

  async up(queryRunner) {
    await queryRunner.query('CREATE TABLE widgets (id serial PRIMARY KEY, name text NOT NULL)');
  }

  async down(queryRunner) {
    await queryRunner.query('DROP TABLE widgets');
  }
}

/** Public tables (TypeORM 0.3 may also create typeorm_metadata; left out) and the recorded migration names. */
async function migratedState(dataSource) {
  const tables = await dataSource.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
  const recorded = await dataSource.query('SELECT name FROM migrations ORDER BY id');
  return {
    tables: tables.map((row) => row.table_name).filter((name) => name !== 'typeorm_metadata'),
    recorded: recorded.map((row) => row.name),
  };
}

/** The installed version of a package (typeorm's exports map hides its package.json). */
function installed(name) {
  return JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')).version;
}

module.exports = { CreateWidgets1700000000000, migratedState, installed };
