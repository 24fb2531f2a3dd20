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
