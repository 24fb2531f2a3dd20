// 8 replicas booting at once vs 1 replica, with this library, on one fresh database; and 8
// replicas with raw TypeORM runMigrations(), counting survivors. Run by hand:
//   npm run build && node bench/replicas.mjs [--runs 5] [--slow-ms 1000] [--db postgres,mariadb,sqlite]
// Wall time: from the moment all replicas, loaded and waiting, are released together, until the
// last one has finished booting (its DONE_AT).
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machine, median, onFreshDatabase, reachableKinds, runTogether, table } from './support.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'slow-ms': { type: 'string', default: '1000' },
    db: { type: 'string', default: 'postgres,mariadb,sqlite' },
    replicas: { type: 'string', default: '8' },
    json: { type: 'boolean', default: false },
  },
});
const summary = [];
const runs = Number(values.runs);
const replicas = Number(values.replicas);
const slowMs = values['slow-ms'];
const REPLICA = join(import.meta.dirname, '../test/fixtures/replica.mjs');

function boot(kind, count, migrator) {
  return onFreshDatabase(kind, async (db) => {
    const { startedAt: startAt, results } = await runTogether(REPLICA, count, {
      DB_KIND: kind,
      DB_URL: db.url,
      SLOW_MS: slowMs,
      MIGRATOR: migrator,
    });
    const doneAt = results.map((r) => Number(/DONE_AT (\d+)/.exec(r.output)?.[1] ?? NaN));
    const survivors = results.filter((r) => r.code === 0).length;
    const seeded = await db
      .query('SELECT COUNT(*) AS n FROM items')
      .then((rows) => Number(rows[0].n))
      .catch(() => NaN);
    return {
      wallMs: Math.max(...doneAt.filter(Number.isFinite)) - startAt,
      survivors,
      seeded,
      failures: results.filter((r) => r.code !== 0),
    };
  });
}

const rows = [];
for (const kind of await reachableKinds(values.db)) {
  const one = [];
  const many = [];
  const raw = [];
  for (let i = 0; i < runs; i++) {
    one.push(await boot(kind, 1, 'module'));
    many.push(await boot(kind, replicas, 'module'));
    raw.push(await boot(kind, replicas, 'raw'));
  }
  const failedRuns = many.filter((r) => r.survivors !== replicas || r.seeded !== 1).length;
  const sampleError = raw
    .flatMap((r) => r.failures)
    .map((f) => /BOOT_FAILED (.*)/.exec(f.output)?.[1])
    .find(Boolean);
  const ratio = median(many.map((r) => r.wallMs)) / median(one.map((r) => r.wallMs));
  summary.push({
    case: `${replicas} replicas at once vs 1 replica (${kind})`,
    library: `${Math.round(median(many.map((r) => r.wallMs)))} ms`,
    comparison: `${Math.round(median(one.map((r) => r.wallMs)))} ms`,
    ratio: ratio.toFixed(2),
    target: '<= 1.5',
    met: ratio <= 1.5 && failedRuns === 0,
  });
  summary.push({
    case: `replicas that survive (${kind})`,
    library: `${many.map((r) => r.survivors).join('/')} of ${replicas}`,
    comparison: `raw TypeORM: ${raw.map((r) => r.survivors).join('/')} of ${replicas}`,
    ratio: '-',
    target: `all ${replicas}`,
    met: failedRuns === 0,
  });
  rows.push([
    kind,
    `${Math.round(median(one.map((r) => r.wallMs)))} ms`,
    `${Math.round(median(many.map((r) => r.wallMs)))} ms`,
    (median(many.map((r) => r.wallMs)) / median(one.map((r) => r.wallMs))).toFixed(2),
    `${many.map((r) => r.survivors).join('/')} of ${replicas}${failedRuns ? ` (${failedRuns} bad runs)` : ''}`,
    `${raw.map((r) => r.survivors).join('/')} of ${replicas}`,
    raw.map((r) => (Number.isNaN(r.seeded) ? '-' : r.seeded)).join('/'),
    sampleError ? sampleError.slice(0, 80) : '',
  ]);
}

console.log(`\nreplicas benchmark: ${runs} runs, median; slow migration ${slowMs} ms; ${machine()}\n`);
console.log(
  table(
    [
      'database',
      '1 replica',
      `${replicas} replicas`,
      'ratio (target <= 1.5)',
      'module: ok per run',
      'raw TypeORM: ok per run',
      'raw: seed rows per run',
      'a raw failure',
    ],
    rows,
  ),
);
if (values.json) console.log(`BENCH_JSON ${JSON.stringify(summary)}`);
