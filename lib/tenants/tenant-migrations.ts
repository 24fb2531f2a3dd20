import { AutoMigratorConfigError } from '../errors/auto-migrator-config.error.js';
import { tenantKey } from '../contracts/tenant-ref.js';
import { TenantMigrationsError } from '../errors/tenant-migrations.error.js';
import type { TenantLister } from '../options/auto-migrator-options.interface.js';
import { planTenant, type DataSourcePlan } from '../plan/migration-plan.js';
import { DataSourceMigrationRunner } from '../runner/data-source-migration.runner.js';
import type { RunnerEnvironment } from '../runner/runner-environment.js';
import type { MigrationStateStore } from '../state/migration-state.js';
import type { MigrationStrategy } from '../contracts/migration-strategy.js';
import { validateTenantNames } from './tenant-name.js';
import { TenantDeal } from './tenant-deal.js';
import { readTenantHistory, type TenantHistory } from './tenant-history.js';
import { watchTenants, installSummary, summaryWriterSql, type SummaryPlace } from './tenant-summary.js';
import { buildMigrations } from '../plan/build-migrations.js';
import { migrationsTableName } from '../history/migrations-table.js';
import { startedTableName } from '../history/started-migrations.js';
import { dataSourceLabel } from '../util/data-source-label.js';

/** Lists the tenants of a plan with `tenants`, and validates every name before anything runs. */
export async function listTenants(plan: DataSourcePlan, lister: TenantLister): Promise<string[]> {
  if (!plan.dataSource.isInitialized) await plan.dataSource.initialize();
  const names: unknown = await lister(plan.dataSource);
  if (!Array.isArray(names)) {
    const got =
      typeof names === 'string'
        ? `the string ${JSON.stringify(names.length > 40 ? `${names.slice(0, 40)}…` : names)}`
        : names === null
          ? 'null'
          : typeof names;
    throw new AutoMigratorConfigError(
      `AutoMigratorModule option "tenants.list" of DataSource "${plan.name}" must return (or resolve to) an array of tenant names; got ${got}. Nothing was run.`,
    );
  }
  return validateTenantNames(plan.name, names);
}

/**
 * Runs `work` for every tenant, at most `concurrency` at once (each on one pooled connection),
 * pulling tenants from the list as workers free up: memory and connections stay bounded whatever
 * the number of tenants. Stops taking new tenants once the run is stopped (shutdown).
 */
export async function forEachTenant<T>(
  tenants: readonly T[],
  concurrency: number,
  env: RunnerEnvironment,
  work: (tenant: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tenants.length && !env.control.stopped) {
      const tenant = tenants[next++]!;
      await work(tenant);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tenants.length) }, worker));
}

/**
 * Migrates every tenant of `parent` with the strategy, called per tenant. A tenant that fails does
 * not stop the others; after all were tried, a TenantMigrationsError lists the failed ones when
 * the strategy threw for any (a strategy that marks a tenant failed lets the boot go on).
 */
export async function migrateTenants(
  parent: DataSourcePlan,
  tenants: readonly string[],
  strategy: MigrationStrategy,
  env: RunnerEnvironment,
  state: MigrationStateStore,
): Promise<void> {
  const settings = parent.tenants;
  if (!settings) return;
  const started = performance.now();
  for (const tenant of tenants) {
    const ref = { name: tenant, parent: parent.name };
    env.emit({ type: 'run-queued', dataSource: tenantKey(ref), tenant: ref });
  }
  env.logger.log(`${dataSourceLabel(parent.name)}: migrating ${tenants.length} tenant(s), ${settings.concurrency} at a time`);
  // Any tenant's view names the tables and migrations every tenant has.
  const view = tenants[0] === undefined ? undefined : planTenant(parent, tenants[0]);
  const table = view ? migrationsTableName(view.dataSource) : '';
  const history = await readHistory(parent, view, tenants, env);
  const thrown: Array<{ tenant: string; error: string }> = [];
  const migrate = async (tenant: string, known: TenantHistory, deferIfLocked: boolean): Promise<boolean> => {
    try {
      // Known pending: the lock first, and one read under it. Otherwise (maybe done by another
      // replica meanwhile) one read first, and the lock only when something is pending; a new
      // tenant's reads ask the catalog first (its tables are likely not there).
      const seen = known.pending.get(tenant);
      const claimFirst = deferIfLocked && seen === 'pending';
      const askFirst = seen === 'no-table';
      const summary = history.writer && summaryWriterSql(history.writer, tenant, table);
      return await new DataSourceMigrationRunner(planTenant(parent, tenant, summary), env).migrate(strategy, {
        deferIfLocked,
        claimFirst,
        askFirst,
      });
    } catch (error) {
      thrown.push({ tenant, error: env.redactor.message(error) });
      return true;
    }
  };
  const vouchFor = (tenant: string) =>
    env.emit({
      type: 'data-source-done',
      dataSource: tenantKey({ parent: parent.name, name: tenant }),
      status: 'done',
      applied: [],
      durationMs: 0,
    });
  // The tenants known up to date are done at once; the workers take the others.
  const toMigrate: string[] = [];
  for (const tenant of tenants) {
    if (history.upToDate.has(tenant)) vouchFor(tenant);
    else toMigrate.push(tenant);
  }
  // Replicas share the work: a tenant another process is migrating is left to it and looked at
  // again once every other tenant was tried (by then it is usually done: nothing left to apply).
  const deferred: string[] = [];
  const tried = new Set<string>();
  const take = async (tenant: string) => {
    tried.add(tenant);
    if (!(await migrate(tenant, history, true))) deferred.push(tenant);
  };
  const deal = await openDeal(parent, view, tenants, toMigrate.length, env);
  if (deal) {
    // Each worker takes the next tenants dealt (see TenantDeal): no replica reads what another did.
    const toDo = new Set(toMigrate);
    const worker = async () => {
      for (let dealt = await nextDealt(deal, parent, env); dealt && !env.control.stopped; dealt = await nextDealt(deal, parent, env)) {
        for (const tenant of dealt) if (toDo.has(tenant) && !env.control.stopped) await take(tenant);
      }
    };
    await Promise.all(Array.from({ length: settings.concurrency }, worker));
  } else {
    // Each process starts at its own point of the list, so replicas booting together begin on
    // different tenants instead of queueing on the same locks.
    const start = Math.floor(Math.random() * toMigrate.length);
    await forEachTenant([...toMigrate.slice(start), ...toMigrate.slice(0, start)], settings.concurrency, env, take);
  }
  // What was dealt to the others is read back at once; what is not done by then (another replica
  // died, or is still at it) is migrated here, under its lock, with the tenants left to others.
  const others = toMigrate.filter((tenant) => !tried.has(tenant));
  const after = others.length > 0 && !env.control.stopped ? await readHistory(parent, view, others, env) : history;
  const last: Array<readonly [string, TenantHistory]> = deferred.map((tenant) => [tenant, history]);
  const doneElsewhere = new Set<string>();
  for (const tenant of others) {
    if (!after.upToDate.has(tenant)) last.push([tenant, after]);
    else {
      doneElsewhere.add(tenant);
      vouchFor(tenant);
    }
  }
  await forEachTenant(last, settings.concurrency, env, async ([tenant, known]) => void (await migrate(tenant, known, false)));
  // The tenants dealt to another replica and found done are left to it to summarise.
  const unsummarized = history.unsummarized.filter((tenant) => !doneElsewhere.has(tenant));
  if (!env.control.stopped) await summarize(parent, table, unsummarized, history.perStatement, env);
  const states = tenants.map((tenant) => state.get(tenantKey({ parent: parent.name, name: tenant })));
  const failed = states.filter((state) => state?.status === 'failed').length;
  const applied = states.reduce((sum, state) => sum + (state?.applied.length ?? 0), 0);
  env.logger.log(
    `${dataSourceLabel(parent.name)}: tenants: ${tenants.length - failed} done, ${failed} failed; ${applied} migration(s) applied in ${Math.round(performance.now() - started)} ms`,
  );
  if (thrown.length > 0) {
    const error = new TenantMigrationsError(parent.name, thrown, tenants.length);
    env.logger.error(error.message);
    throw error;
  }
}

/**
 * The deal of this deploy's tenants among its replicas (see TenantDeal), when at least 8 per worker
 * of this process are pending, and a 64th of the list (a deal goes through the whole sorted list, a
 * batch at a time: for a few pending, each replica reading them is cheaper than a statement per
 * batch). Undefined where the deal's sequence cannot be made (logged at debug): the replicas then
 * walk the list, each from its own point.
 */
async function openDeal(
  parent: DataSourcePlan,
  view: DataSourcePlan | undefined,
  tenants: readonly string[],
  pending: number,
  env: RunnerEnvironment,
): Promise<TenantDeal | undefined> {
  const concurrency = parent.tenants?.concurrency ?? 1;
  if (view === undefined || pending < concurrency * 8 || pending < tenants.length / 64) return undefined;
  try {
    return await TenantDeal.open(parent.dataSource, {
      tenants: [...tenants].sort(),
      known: knownNames(view),
      table: migrationsTableName(view.dataSource),
      schema: (parent.dataSource.options as { schema?: string }).schema,
      // About 8 batches per worker of one replica, of at most 16 tenants.
      batch: Math.max(1, Math.min(16, Math.floor(tenants.length / (concurrency * 8)))),
    });
  } catch (error) {
    env.logger.debug(`${dataSourceLabel(parent.name)}: could not deal the tenants out (${env.redactor.message(error)}); walking the list`);
    return undefined;
  }
}

/** The next tenants the deal gives this worker; undefined once all were dealt, or when the deal fails (logged at debug: the rest is read back at the end). */
async function nextDealt(deal: TenantDeal, parent: DataSourcePlan, env: RunnerEnvironment): Promise<readonly string[] | undefined> {
  try {
    return await deal.take();
  } catch (error) {
    env.logger.debug(`${dataSourceLabel(parent.name)}: the tenants' deal failed (${env.redactor.message(error)}); reading the rest back`);
    return undefined;
  }
}

/** The tenant migrations' names in this build (`view`: any tenant's plan). */
function knownNames(view: DataSourcePlan): string[] {
  return buildMigrations(view.dataSource.migrations, view.label).map((migration) => migration.name);
}

/** Where a DataSource's tenant summary lives, when it keeps one (see tenant-summary.ts). */
function summaryPlace(parent: DataSourcePlan): SummaryPlace | undefined {
  if (!parent.tenants?.summaryTable) return undefined;
  return { schema: (parent.dataSource.options as { schema?: string }).schema };
}

/**
 * What the tenants' migrations tables say before the run (`view`: any tenant's plan), in a bounded number of statements (see
 * readTenantHistory). Should that read fail, every tenant takes the full run, which reads (and
 * reports) each one.
 */
async function readHistory(
  parent: DataSourcePlan,
  view: DataSourcePlan | undefined,
  tenants: readonly string[],
  env: RunnerEnvironment,
): Promise<TenantHistory> {
  const none: TenantHistory = { upToDate: new Set(), unsummarized: [], pending: new Map(), perStatement: 1 };
  if (view === undefined) return none;
  try {
    const query = {
      known: knownNames(view),
      table: migrationsTableName(view.dataSource),
      startedTable: startedTableName(view.dataSource),
    };
    return await readTenantHistory(parent.dataSource, tenants, query, summaryPlace(parent));
  } catch (error) {
    env.logger.debug(
      `${dataSourceLabel(parent.name)}: could not read the tenants' migrations tables at once (${env.redactor.message(error)}); reading each`,
    );
    return none;
  }
}

/**
 * Puts the summary's trigger on the tenants it did not vouch for, so the next restart learns about
 * them in one statement. An optimisation: a failure is logged at debug, and the next run tries again.
 */
async function summarize(
  parent: DataSourcePlan,
  table: string,
  unsummarized: readonly string[],
  perStatement: number,
  env: RunnerEnvironment,
): Promise<void> {
  const place = summaryPlace(parent);
  if (!place || unsummarized.length === 0) return;
  try {
    await installSummary(parent.dataSource, place);
    const watched = await watchTenants(parent.dataSource, place, unsummarized, table, perStatement);
    env.logger.debug(`${dataSourceLabel(parent.name)}: ${watched} of ${unsummarized.length} tenant(s) newly summarised`);
  } catch (error) {
    env.logger.debug(
      `${dataSourceLabel(parent.name)}: could not summarise the tenants' migrations tables (${env.redactor.message(error)})`,
    );
  }
}
