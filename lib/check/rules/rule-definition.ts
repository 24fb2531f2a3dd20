import type { CheckRule } from '../check-finding.js';

/**
 * One rule of `check`, as the guide documents it and as its examples show it: what it finds, what
 * that does to the running release, and what to write instead. The registry lists them all; the
 * guide's tables are checked against it, and its examples are run on a real server.
 */
export interface RuleDefinition {
  readonly id: CheckRule;
  /** Lock hazards (graded by the live table's size), what breaks the previous release, or what fails on today's rows. */
  readonly family: 'lock' | 'compatibility' | 'data';
  /** `by size`: a warning on a small table, an error on a large one (see LARGE_TABLE). */
  readonly severity: 'by size' | 'error' | 'warning';
  /** When it is found (Markdown, for the guide). */
  readonly foundWhen: string;
  /** The lock it holds and what that blocks, what the running release meets, or why it fails (Markdown). */
  readonly hazard: string;
  /** The safe rewrite (Markdown). */
  readonly instead: string;
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
