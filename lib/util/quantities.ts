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

/** `2m10s`, `1h05m`, `45s`: a long duration, as progress lines give it. */
export function duration(valueMs: number): string {
  const total = Math.max(0, Math.round(valueMs / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secondsLeft = total % 60;
  if (hours > 0) return `${hours}h${String(minutes).padStart(2, '0')}m`;
  if (minutes > 0) return `${minutes}m${String(secondsLeft).padStart(2, '0')}s`;
  return `${secondsLeft}s`;
}
