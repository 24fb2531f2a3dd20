import type { Logger } from '@nestjs/common';
import { AUTO_MIGRATOR_PROGRESS_CONTEXT } from '../auto-migrator.constants.js';
import type { MigrationStateStore } from '../state/migration-state.js';
import { dataSourceLabel } from '../util/data-source-label.js';
import { duration } from '../util/quantities.js';

/** What a run migrates: each DataSource, and how many tenants it has in the run. */
export interface ProgressScope {
  readonly dataSource: string;
  readonly tenants: number;
}

/**
 * While a run goes on, a line every `everyMs`, read from the state (the events' record): for a
 * DataSource's tenants, how many are done, failed and left, the rate and the time left; for a
 * migration running longer than `everyMs`, that it still runs and for how long. Nothing for a
 * run that ends sooner. Lines at `log` level, with the context {@link AUTO_MIGRATOR_PROGRESS_CONTEXT}.
 */
export class RunProgress {
  private timer: NodeJS.Timeout | undefined;
  /** Per DataSource with tenants: tenants finished (done or failed) at the first line, and when. */
  private readonly baselines = new Map<string, { finished: number; at: number }>();
  private readonly lastLines = new Map<string, string>();

  constructor(
    private readonly logger: Logger,
    private readonly state: MigrationStateStore,
    private readonly scope: readonly ProgressScope[],
    private readonly everyMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  start(): void {
    if (this.everyMs <= 0 || this.timer) return;
    this.timer = setInterval(() => this.tick(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The lines one tick writes (exposed for tests; the timer calls it). */
  tick(): string[] {
    const lines: string[] = [];
    const wallNow = Date.now();
    for (const { dataSource, tenants } of this.scope) {
      const own = this.state.get(dataSource);
      if (own?.status === 'running' && own.current && wallNow - own.current.startedAt.getTime() >= this.everyMs) {
        lines.push(
          `${dataSourceLabel(dataSource)}: [${own.current.index}/${own.current.total}] ${own.current.name} still running after ${duration(wallNow - own.current.startedAt.getTime())}`,
        );
      }
      const counts = tenants > 0 ? this.state.tenantCounts(dataSource) : undefined;
      if (!counts) continue;
      const failed = counts.failed.size;
      const finished = counts.done + failed;
      const left = Math.max(0, tenants - finished);
      if (left === 0) continue;
      const at = this.now();
      const baseline = this.baselines.get(dataSource);
      if (!baseline) this.baselines.set(dataSource, { finished, at });
      const rate = baseline && at > baseline.at ? ((finished - baseline.finished) * 1000) / (at - baseline.at) : undefined;
      const pace =
        rate === undefined
          ? ''
          : rate > 0
            ? ` (${formatRate(rate)} tenants/s, about ${duration((left / rate) * 1000)} left)`
            : ' (none finished since the last line)';
      const line = `${dataSourceLabel(dataSource)}: tenants ${count(finished)} of ${count(tenants)} finished (${count(counts.done)} done, ${count(failed)} failed), ${count(left)} left${pace}`;
      if (this.lastLines.get(dataSource) === line) continue;
      this.lastLines.set(dataSource, line);
      lines.push(line);
    }
    for (const line of lines) this.logger.log(line, AUTO_MIGRATOR_PROGRESS_CONTEXT);
    return lines;
  }
}

/** `10,000`. */
function count(value: number): string {
  return value.toLocaleString('en-US');
}

function formatRate(rate: number): string {
  return rate >= 10 ? String(Math.round(rate)) : rate.toFixed(1);
}
