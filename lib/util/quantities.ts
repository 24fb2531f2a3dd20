/** How log lines and errors write a count and a duration. */

/** `1 migration`, `2 migrations`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** `1.5 s`. */
export function seconds(valueMs: number): string {
  return `${(valueMs / 1000).toFixed(1)} s`;
}

/** `12 ms`. */
export function ms(value: number): string {
  return `${Math.round(value)} ms`;
}
