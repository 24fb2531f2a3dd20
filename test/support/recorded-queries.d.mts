import type { Logger } from 'typeorm';

/** A TypeORM logger that keeps every statement sent (with `logging: 'all'`), and those statements. */
export function recordQueries(): { readonly queries: string[]; readonly logger: Logger };
