import type { CheckRule, CheckSeverity } from '../check-finding.js';
import type { MappedColumn, MappedTable } from '../snapshot/entity-tables.js';
import type { CatalogFacts, TableFacts } from '../table-facts.js';

/**
 * One rule of `check`, as the guide documents it and as its examples show it: what it finds, what
 * that does to the running release, and what to write instead. The registry lists them all; the
 * guide's tables are checked against it, and its examples are run on a real server.
 */
export interface RuleDefinition {
  readonly id: CheckRule;
  /** Lock hazards (graded by the live table's size), what breaks the previous release, what fails on today's rows or on today's schema. */
  readonly family: 'lock' | 'compatibility' | 'data' | 'schema';
  /** `by size`: a warning on a small table, an error on a large one (see LARGE_TABLE). */
  readonly severity: 'by size' | 'error' | 'warning';
  /** When it is found (Markdown, for the guide). */
  readonly foundWhen: string;
  /** The lock it holds and what that blocks, what the running release meets, or why it fails (Markdown). */
  readonly hazard: string;
  /** The safe rewrite (Markdown). */
  readonly instead: string;
  /** What it finds on MySQL/MariaDB, where `check` asks the server on a shadow (Markdown): "as here", or what differs. */
  readonly mysql: string;
  /** A pending run it finds, and its safe rewrite, which it does not: on the tables of RULE_EXAMPLE_SCHEMA. */
  readonly example: { readonly unsafe: readonly ExampleMigration[]; readonly safe: readonly ExampleMigration[] };
}

/** One pending migration of an example: its statements, run in a transaction unless `transaction: false`. */
export interface ExampleMigration {
  readonly sql: readonly string[];
  readonly transaction?: false;
}

/** A migration of the statements given, in a transaction. */
export function migration(...sql: string[]): ExampleMigration {
  return { sql };
}

/** A migration of the statements given, without a transaction (`transaction = false`). */
export function withoutTransaction(...sql: string[]): ExampleMigration {
  return { sql, transaction: false };
}

/** What a rule reading one action on a live table is told (see lock-rules.ts, which asks each in turn). */
export interface LiveAction {
  /** The live table. */
  readonly facts: TableFacts;
  /** By its size: a lock hazard's severity there. */
  readonly severity: CheckSeverity;
  readonly catalog: CatalogFacts;
  /** Columns with a validated `CHECK (column IS NOT NULL)`, as `qualified|column`. */
  readonly notNullChecked: ReadonlySet<string>;
  /** `<what> on <table> (<size>) holds <lock> for as long as that takes, which blocks <…>`. */
  readonly holds: (what: string) => string;
}

/** What a rule holding one action against the previous release is told (see compat-rules.ts, which asks each in turn). */
export interface MappedAction {
  /** The live table the action is on, which the previous release maps. */
  readonly live: TableFacts;
  readonly catalog: CatalogFacts;
  /** How findings name the release: `the previous release (build 1.4.0)`. */
  readonly release: string;
  readonly table: MappedTable;
  /** `<release> maps <table> (<its entities>)`. */
  readonly entities: string;
  /** The column as the previous release maps it, if it does. */
  readonly column: (name: string) => MappedColumn | undefined;
}

/** The safe way for what the previous release still maps. */
export const TWO_RELEASES =
  'Do it in two releases: first a release whose entities no longer map it (expand), then the migration (contract).';
