import { hash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { databaseErrorCode } from '../util/error-chain.js';
import { quoteIdentifier, quoteLiteral } from '../util/sql-identifier.js';

/** The prefix of the deals' sequences, followed by 16 hex digits of what the replicas deal. */
export const DEAL_PREFIX = 'auto_migrator_deal_';

/** What the replicas of one deploy agree on, each from its own boot. */
export interface DealTerms {
  /** Every tenant of the list, sorted: the same list in every replica that lists the same tenants. */
  readonly tenants: readonly string[];
  /** The tenant migrations of this build, and the tenants' migrations table. */
  readonly known: readonly string[];
  readonly table: string;
  /** The DataSource's `schema` option, where the sequence is made (else the connection's current schema). */
  readonly schema: string | undefined;
  /** How many tenants one worker takes at a time. */
  readonly batch: number;
}

/**
 * Deals the tenants out to the replicas of one deploy (PostgreSQL). Replicas booting together on
 * the same build and the same tenant list derive the same sequence name from them; each worker
 * takes the next `batch` of the sorted list with `nextval` (no lock, no wait, never rolled back),
 * so every tenant is dealt to one worker of one replica, and no replica reads the tenants another
 * has done. Without it, each replica walked the whole list, reading every tenant the others had
 * done: 4 replicas took 1.67x one on 1,000 new tenants, against 1.23x when each did a disjoint
 * share (bench/README.md).
 *
 * A deal only shares the work out: each replica still vouches for every tenant (what the others
 * were dealt is read back at the end in a bounded number of statements, and whatever is not done
 * by then, a replica died or is still at it, is migrated under its lock as before). The first
 * replica to find the deal exhausted drops the sequence; the others then find it gone, which also
 * means exhausted. A deploy stopped midway leaves its sequence, which a later boot of the same build
 * on the same tenants takes up (what was dealt before is read back at its end).
 */
export class TenantDeal {
  private over = false;

  private constructor(
    private readonly dataSource: DataSource,
    private readonly sequence: string,
    private readonly terms: DealTerms,
  ) {}

  /** The deal of these terms, joined or begun; rejects when the sequence cannot be made (no CREATE privilege, a read-only server). */
  static async open(dataSource: DataSource, terms: DealTerms): Promise<TenantDeal> {
    const key = hash('sha256', JSON.stringify([terms.table, terms.known, terms.tenants])).slice(0, 16);
    const name = quoteIdentifier(`${DEAL_PREFIX}${key}`);
    const sequence = terms.schema === undefined ? name : `${quoteIdentifier(terms.schema)}.${name}`;
    try {
      await dataSource.query(`CREATE SEQUENCE IF NOT EXISTS ${sequence} AS bigint MINVALUE 0 START 0`);
    } catch (error) {
      // Two replicas making it at the same instant: IF NOT EXISTS does not cover the race, and the
      // loser gets a unique violation on the catalog; the sequence is there.
      if (databaseErrorCode(error) !== '23505' && databaseErrorCode(error) !== '42P07') throw error;
    }
    return new TenantDeal(dataSource, sequence, terms);
  }

  /** The next tenants dealt to the caller (a slice of the sorted list), or undefined once every tenant was dealt. */
  async take(): Promise<readonly string[] | undefined> {
    if (this.over) return undefined;
    let index: number;
    try {
      const [row] = (await this.dataSource.query(`SELECT nextval(${quoteLiteral(this.sequence)}::regclass)::int AS i`)) as Array<{
        i: number;
      }>;
      index = row!.i;
    } catch (error) {
      // Dropped by the replica that found it exhausted.
      if (databaseErrorCode(error) !== '42P01') throw error;
      this.over = true;
      return undefined;
    }
    const from = index * this.terms.batch;
    if (from < this.terms.tenants.length) return this.terms.tenants.slice(from, from + this.terms.batch);
    // Every tenant was dealt: the first of this process's workers to find it so drops the sequence.
    if (this.over) return undefined;
    this.over = true;
    await this.dataSource.query(`DROP SEQUENCE IF EXISTS ${this.sequence}`);
    return undefined;
  }
}
