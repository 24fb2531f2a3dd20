import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';

/** Letters, digits, `_` and `-`, starting with a letter or `_`: quoting is all a name ever needs. */
const TENANT_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const MAX_BYTES = 63;
const RESERVED = new Set(['public', 'information_schema']);

/**
 * Checks tenant (schema) names before anything runs: PostgreSQL identifier rules (at most 63
 * bytes), nothing that needs escaping beyond double quotes, no system or shared schema, no
 * duplicates. Throws an AutoMigratorConfigError naming the first bad one.
 */
export function validateTenantNames(dataSource: string, names: readonly unknown[]): string[] {
  const seen = new Set<string>();
  return names.map((name, index) => {
    const where = `DataSource "${dataSource}": tenant #${index + 1}`;
    if (typeof name !== 'string' || name.length === 0) {
      throw new AutoMigratorConfigError(
        `${where} has an empty or non-string name (${JSON.stringify(name)}); tenant names are schema names. Nothing was run.`,
      );
    }
    const quoted = JSON.stringify(name);
    if (!TENANT_NAME.test(name)) {
      throw new AutoMigratorConfigError(
        `${where} ${quoted} is not a valid tenant schema name: use letters, digits, "_" and "-", starting with a letter or "_". Nothing was run.`,
      );
    }
    if (Buffer.byteLength(name) > MAX_BYTES) {
      throw new AutoMigratorConfigError(
        `${where} ${quoted} is longer than PostgreSQL's ${MAX_BYTES}-byte identifier limit. Nothing was run.`,
      );
    }
    if (RESERVED.has(name.toLowerCase()) || /^pg_/i.test(name)) {
      throw new AutoMigratorConfigError(`${where} ${quoted} is a system or shared schema, not a tenant. Nothing was run.`);
    }
    if (seen.has(name)) throw new AutoMigratorConfigError(`${where} ${quoted} is listed twice. Nothing was run.`);
    seen.add(name);
    return name;
  });
}
