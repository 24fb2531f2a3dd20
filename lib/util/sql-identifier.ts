/** A PostgreSQL identifier, double-quoted (embedded quotes doubled). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
