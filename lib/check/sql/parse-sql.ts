import type { RawStmt } from 'libpg-query';

type Parser = typeof import('libpg-query');

let parser: Promise<Parser> | undefined;

/**
 * libpg-query (PostgreSQL's own parser, WebAssembly), loaded on first use: an application that never
 * checks never loads it. With require, as the rest of the package (CommonJS): an import() would need
 * Jest's --experimental-vm-modules in the applications' own tests.
 */
function loadParser(): Promise<Parser> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  parser ??= Promise.resolve(require('libpg-query') as Parser).then(async (module) => {
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
