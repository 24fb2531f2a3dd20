// npm run bench: every benchmark, each measuring this library and its comparison in the same run,
// then one table of ratios against their targets. Each script also prints its own detailed table.
// Options are passed through: node bench/all.mjs [--quick]   (--quick: fewer runs, for a smoke test)
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { machine, table } from './support.mjs';

const quick = process.argv.includes('--quick');
const scripts = [
  ['replicas.mjs', quick ? ['--runs', '1'] : ['--runs', '5']],
  ['tenants.mjs', quick ? ['--runs', '1', '--tenants', '60', '--concurrency', '8'] : ['--runs', '3', '--concurrency', '4,8']],
  ['tenants-scale.mjs', quick ? ['--runs', '1', '--tenants', '200'] : ['--runs', '3', '--tenants', '1000,10000']],
  ['check.mjs', quick ? ['--runs', '2'] : ['--runs', '6']],
  ['check-stall.mjs', quick ? ['--runs', '1', '--rows', '200000', '--tables', '50'] : ['--runs', '3']],
  ['mysql-check.mjs', quick ? ['--runs', '1', '--tables', '20', '--rows', '20000'] : ['--runs', '3']],
  ['overhead.mjs', quick ? ['--runs', '2', '--boots-per-run', '1'] : ['--runs', '12']],
];
const rows = [];
for (const [script, args] of scripts) {
  process.stderr.write(`\n== ${script} ${args.join(' ')}\n`);
  const result = spawnSync(process.execPath, [join(import.meta.dirname, script), ...args, '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = result.stdout.split('\n');
  process.stderr.write(lines.filter((line) => !line.startsWith('BENCH_JSON ')).join('\n'));
  const json = lines.find((line) => line.startsWith('BENCH_JSON '));
  if (result.status !== 0 || !json) {
    rows.push([script, 'failed', '-', '-', '-', 'no']);
    continue;
  }
  for (const row of JSON.parse(json.slice('BENCH_JSON '.length))) {
    rows.push([row.case, row.library, row.comparison, row.ratio, row.target, row.met ? 'yes' : '**no**']);
  }
}
console.log(`\nnestjs-auto-migrator benchmarks${quick ? ' (quick: fewer runs, not for publishing)' : ''}; medians; ${machine()}\n`);
console.log(table(['case', 'this library', 'compared with', 'ratio', 'target', 'met'], rows));
