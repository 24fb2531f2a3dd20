// A TypeORM logger (DataSource options `logger`, with `logging: 'all'`) that keeps every statement
// sent: for the tests and benchmarks that count what the library sends.
export function recordQueries() {
  const queries = [];
  const logger = {
    logQuery: (query) => void queries.push(query),
    logQueryError: () => undefined,
    logQuerySlow: () => undefined,
    logSchemaBuild: () => undefined,
    logMigration: () => undefined,
    log: () => undefined,
  };
  return { queries, logger };
}
