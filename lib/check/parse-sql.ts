import type { RawStmt } from 'libpg-query';

type Parser = typeof import('libpg-query');

let parser: Promise<Parser> | undefined;

/** libpg-query (PostgreSQL's own parser, WASM), loaded on first use: an application that never checks never loads it. */
function loadParser(): Promise<Parser> {
  parser ??= import('libpg-query').then(async (module) => {
    await module.loadModule();
    return module;
  });
  return parser;
}

/** The statements of `sql` (one query text may hold several), parsed by PostgreSQL's parser; rejects with its syntax error. */
export async function parseStatements(sql: string): Promise<RawStmt[]> {
  const { parse } = await loadParser();
  return (await parse(sql)).stmts ?? [];
}
