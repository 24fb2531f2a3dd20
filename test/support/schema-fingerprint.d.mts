/**
 * What PostgreSQL's catalog says of a database's own schema (not its extensions' objects), as
 * sorted lines `kind name: detail`: two databases with the same schema give the same lines.
 */
export function schemaFingerprint(db: { query(sql: string): Promise<unknown> }): Promise<string[]>;
