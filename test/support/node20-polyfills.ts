/**
 * Vitest 5 prints failed tests with Map.groupBy / Object.groupBy (ES2024), which Node 20 lacks:
 * without these, a failing test crashes the reporter instead of being shown.
 */
type GroupBy = <K, T>(items: Iterable<T>, key: (item: T, index: number) => K) => Map<K, T[]>;
type ObjectGroupBy = <T>(items: Iterable<T>, key: (item: T, index: number) => PropertyKey) => Record<PropertyKey, T[]>;

const mapWithGroupBy = Map as unknown as { groupBy?: GroupBy };
if (typeof mapWithGroupBy.groupBy !== 'function') {
  mapWithGroupBy.groupBy = (items, key) => {
    const groups = new Map();
    let index = 0;
    for (const item of items) {
      const k = key(item, index++);
      const group = groups.get(k);
      if (group) group.push(item);
      else groups.set(k, [item]);
    }
    return groups;
  };
}

const objectWithGroupBy = Object as unknown as { groupBy?: ObjectGroupBy };
if (typeof objectWithGroupBy.groupBy !== 'function') {
  objectWithGroupBy.groupBy = (items, key) => {
    const groups: Record<PropertyKey, unknown[]> = Object.create(null);
    let index = 0;
    for (const item of items) (groups[key(item, index++)] ??= []).push(item);
    return groups as Record<PropertyKey, never[]>;
  };
}
