/**
 * Every object in an error's chain, the error first: what it wraps as `cause`, as TypeORM's
 * `driverError`, or as an AggregateError's `errors`. Each object once, even in a cycle.
 */
export function* errorChain(error: unknown): Generator<Record<string, unknown>> {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const current = queue.shift();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    const record = current as Record<string, unknown>;
    yield record;
    queue.push(record['cause'], record['driverError']);
    if (Array.isArray(record['errors'])) queue.push(...(record['errors'] as unknown[]));
  }
}

/** The first database error code in the chain: a MySQL errno, a SQLSTATE or an ER_ code. */
export function databaseErrorCode(error: unknown): unknown {
  for (const link of errorChain(error)) {
    if (typeof link['errno'] === 'number' && link['errno'] > 1000) return link['errno'];
    if (typeof link['code'] === 'string' && /^[0-9A-Z]{5}$|^ER_/.test(link['code'])) return link['code'];
  }
  return undefined;
}

/**
 * What an error wraps, on one line, for a log line that prints no stack: each link's class and
 * database code, and its message where the text before does not already say it. For example
 * `cause: QueryFailedError [42P01] ← error [42P01]`. Empty when the error wraps nothing.
 */
export function describeCauses(error: unknown, alreadySaid = ''): string {
  const links: string[] = [];
  let said = alreadySaid;
  let first = true;
  for (const link of errorChain(error)) {
    if (first) {
      first = false;
      said += ` ${typeof link['message'] === 'string' ? link['message'] : ''}`;
      continue;
    }
    // pg names its DatabaseError "error": the class name says more.
    const own = typeof link['name'] === 'string' ? link['name'] : '';
    const name = own && own !== own.toLowerCase() ? own : link.constructor?.name || own || 'Error';
    const code = typeof link['code'] === 'string' || typeof link['code'] === 'number' ? ` [${String(link['code'])}]` : '';
    const message = typeof link['message'] === 'string' ? link['message'].split('\n')[0]! : '';
    const text = message && !said.includes(message) ? `${name}${code}: ${message}` : `${name}${code}`;
    said += ` ${message}`;
    if (links.at(-1) !== text) links.push(text);
  }
  return links.length > 0 ? `cause: ${links.join(' ← ')}` : '';
}
