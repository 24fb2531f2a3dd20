// For the CLI: `auto-migrator status --data-source data-source.js`.
const { DataSource } = require('typeorm');
const { CreateWidgets1700000000000 } = require('./widgets.cjs');

module.exports = new DataSource({ type: 'postgres', url: process.env.DATABASE_URL, migrations: [CreateWidgets1700000000000] });
