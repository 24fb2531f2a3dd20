/** How many names a one-line list shows before "… and N more". */
export const LISTED_NAMES = 10;

/**
 * A list of names for one log or error line: all of them when few, else the first `shown` and
 * "… and N more" (the full list belongs in a field or in `status --json`, not in a line).
 */
export function listNames(names: readonly string[], shown: number = LISTED_NAMES, empty = 'none'): string {
  if (names.length === 0) return empty;
  if (names.length <= shown) return names.join(', ');
  return `${names.slice(0, shown).join(', ')} … and ${names.length - shown} more`;
}
