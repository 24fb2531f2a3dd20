import { randomBytes } from 'node:crypto';
import { DataSource, type DataSourceOptions, type QueryRunner } from 'typeorm';
import { AutoMigratorConfigError } from '../../errors/auto-migrator-config.error.js';
import { redactDataSourceLogger } from '../../typeorm/redacting-logger.js';
import { describeConnectionTarget } from '../../util/connection-target.js';
import { quoteIdentifier, quoteLiteral } from '../../util/sql-identifier.js';
import type { SecretRedactor } from '../../util/secret-redactor.js';
import { invariant } from '../../errors/invariant.error.js';
import { readRecordedNames } from '../../history/migration-status.js';
import { migrationsTableName, tableExists } from '../../history/migrations-table.js';
import { userSchema } from './observed-locks.js';
import { applySchema, copyLiveSchema, databaseSettingStatements, primaryOptions, type SchemaCopy } from './schema-copy.js';

/**
 * Where `check` and `plan` run the pending migrations instead of the live database (PostgreSQL):
 * `url`, a database to use (best a clone or branch of production; an empty one is filled with the
 * live schema); without it, a temporary database the library creates on the live server.
 */
export interface ShadowOption {
  /** A PostgreSQL URL (the CLI's `--shadow-url`, or `SHADOW_DATABASE_URL`). */
  readonly url?: string;
}

/**
 * What a shadow is for: `dry-run`, the pending migrations on a copy of the live schema (a clone, or
 * a database filled with it); `replay`, the applied migrations run again from nothing, so an empty
 * database, and on the live server only when `onLiveServer` allows it (replay runs migration code
 * there: a temporary database on the live server, or a URL on it, is refused otherwise).
 */
export type ShadowPurpose = { readonly kind: 'dry-run' } | { readonly kind: 'replay'; readonly onLiveServer: boolean };

const DRY_RUN: ShadowPurpose = { kind: 'dry-run' };

/** What the shadow needs from its caller: where to say what it does, and what to keep out of it. */
export interface ShadowContext {
  readonly label: string;
  readonly redactor: SecretRedactor;
  readonly logger: { log(message: string): void; warn(message: string): void };
}

/** The names the library gives its temporary databases: the prefix says what they are, the rest when and who. */
const TEMPORARY_PREFIX = 'auto_migrator_shadow_';
/** A temporary shadow older than this with nobody connected was left by a run that was killed: it is dropped. */
export const STALE_AFTER_MS = 10 * 60_000;

/** The settings of the live migration session that change what DDL does, repeated in the shadow's. */
export interface SessionSettings {
  readonly timeZone: string;
  readonly searchPath: string;
}

/** Shadows open in this process, dropped on Ctrl-C by {@link closeOpenShadows}. */
const open = new Set<ShadowDatabase>();

/**
 * A database with the live database's schema, for a dry run that must not touch the live tables.
 * Opened by {@link ShadowDatabase.open}; {@link close} drops a temporary one (and empties a URL's
 * database it filled). Holds one dedicated session for the dry run.
 */
export class ShadowDatabase {
  private closing: Promise<void> | undefined;

  /** Made by {@link ShadowDatabase.open}, which knows how to clean up what it made. */
  constructor(
    /** The shadow, with the live DataSource's options (entities, migrations, logging) but its own database. */
    readonly dataSource: DataSource,
    /** The shadow's dedicated session. */
    readonly queryRunner: QueryRunner,
    /** The live migration session's TimeZone and search_path (PostgreSQL; undefined for MySQL/MariaDB). */
    readonly settings: SessionSettings | undefined,
    /** What it is, for messages: `temporary database "auto_migrator_shadow_…"` or `postgres host:5432/db, user "u"`. */
    readonly description: string,
    /**
     * Thrown away at the end (dropped, or emptied as it was given): what runs there may commit. A
     * clone used as it is is not: it must stay a copy of the live database.
     */
    readonly disposable: boolean,
    private readonly cleanUp: () => Promise<void>,
    /** It is on the live database's server (a temporary database there, or a URL on it): what it runs must stay inside it. */
    readonly onLiveServer = true,
  ) {
    open.add(this);
  }

  /**
   * A shadow of `live`: the database at `option.url` (used as it is when its migrations table lists
   * what the live one lists; filled with the live schema when empty; refused otherwise), or else a
   * temporary database on the live server (CREATEDB needed). Refuses with an AutoMigratorConfigError
   * naming the ways when neither can be had. Writes nothing to the live database.
   */
  static async open(
    live: DataSource,
    option: ShadowOption,
    context: ShadowContext,
    purpose: ShadowPurpose = DRY_RUN,
  ): Promise<ShadowDatabase> {
    if (live.options.type !== 'postgres') throw new AutoMigratorConfigError(`${context.label}: a shadow database is for PostgreSQL only`);
    const facts = await readLiveFacts(live);
    return option.url === undefined ? openTemporary(live, facts, context, purpose) : openGiven(live, option.url, facts, context, purpose);
  }

  /**
   * On {@link queryRunner}, the shadow's own session: the live migration session's settings that
   * change what DDL does, for the session (they outlast a migration that commits).
   */
  async prepareSession(): Promise<void> {
    if (!this.settings) return;
    const { timeZone, searchPath } = this.settings;
    await this.queryRunner.query(`SELECT set_config('TimeZone', $1, false), set_config('search_path', $2, false)`, [timeZone, searchPath]);
  }

  /** Ends the shadow: its session and pool closed; a temporary database dropped, a URL's database emptied when it was filled. */
  close(): Promise<void> {
    // Once: a Ctrl-C and the end of the dry run it cut short both close it, and both wait for the drop.
    this.closing ??= this.cleanUp().finally(() => open.delete(this));
    return this.closing;
  }
}

/** Closes every shadow still open in this process (the CLI calls it on SIGINT / SIGTERM). */
export async function closeOpenShadows(): Promise<void> {
  await Promise.all([...open].map((shadow) => shadow.close().catch(() => undefined)));
}

/** Runs `work` with a shadow of `live`, closed whatever happens. */
export async function withShadow<T>(
  live: DataSource,
  option: ShadowOption,
  context: ShadowContext,
  work: (shadow: ShadowDatabase) => Promise<T>,
  purpose: ShadowPurpose = DRY_RUN,
): Promise<T> {
  const shadow = await ShadowDatabase.open(live, option, context, purpose);
  try {
    return await work(shadow);
  } finally {
    await shadow.close();
  }
}

/** What the live database says of itself, read once from its catalog. */
interface LiveFacts {
  readonly database: string;
  readonly user: string;
  readonly serverMajor: number;
  readonly canCreateDatabase: boolean;
  readonly encoding: string;
  readonly collate: string;
  readonly ctype: string;
  /** PostgreSQL 15+: `i` for ICU, with its locale. */
  readonly localeProvider: string | undefined;
  readonly icuLocale: string | undefined;
  readonly databaseSettings: readonly string[];
  readonly settings: SessionSettings;
  /** Identifies this very database: the server's start time and the database's oid. */
  readonly identity: string;
  /** Identifies the server: its start time. */
  readonly server: string;
}

async function readLiveFacts(live: DataSource): Promise<LiveFacts> {
  const [row] = (await live.query(
    `SELECT current_database() AS database, current_user AS "user", current_setting('server_version_num')::int / 10000 AS major,
       (SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user) AS can_create,
       pg_encoding_to_char(d.encoding) AS encoding, d.datcollate AS collate, d.datctype AS ctype, to_jsonb(d) AS row,
       (SELECT coalesce(json_agg(s.setting), '[]') FROM pg_db_role_setting r, unnest(r.setconfig) AS s(setting)
         WHERE r.setdatabase = d.oid AND r.setrole = 0) AS settings,
       current_setting('TimeZone') AS time_zone, current_setting('search_path') AS search_path,
       pg_postmaster_start_time()::text || '/' || d.oid AS identity
     FROM pg_database d WHERE d.datname = current_database()`,
  )) as Array<{
    database: string;
    user: string;
    major: number;
    can_create: boolean;
    encoding: string;
    collate: string;
    ctype: string;
    row: Record<string, unknown>;
    settings: string[];
    time_zone: string;
    search_path: string;
    identity: string;
  }>;
  invariant(row, 'the live database did not describe itself (pg_database has no row for current_database())');
  const provider = typeof row.row['datlocprovider'] === 'string' ? row.row['datlocprovider'] : undefined;
  const icu = row.row['datlocale'] ?? row.row['daticulocale'];
  return {
    database: row.database,
    user: row.user,
    serverMajor: Number(row.major),
    canCreateDatabase: row.can_create,
    encoding: row.encoding,
    collate: row.collate,
    ctype: row.ctype,
    localeProvider: provider,
    icuLocale: typeof icu === 'string' ? icu : undefined,
    databaseSettings: row.settings,
    settings: { timeZone: row.time_zone, searchPath: row.search_path },
    identity: row.identity,
    server: row.identity.slice(0, row.identity.lastIndexOf('/')),
  };
}

/** The names in the migrations table of `dataSource`, oldest first; undefined when there is no such table. */
async function readApplied(dataSource: DataSource, queryRunner?: QueryRunner): Promise<string[] | undefined> {
  const runner = queryRunner ?? dataSource.createQueryRunner();
  try {
    if (!(await tableExists(dataSource, runner, migrationsTableName(dataSource)))) return undefined;
    return await readRecordedNames(dataSource, runner);
  } finally {
    if (!queryRunner) await runner.release();
  }
}

/** When the library copied the schema itself (no pg_dump): says so, as a warning when its copy leaves something out. */
function sayHowCopied(schema: SchemaCopy, context: ShadowContext): void {
  if (!schema.note) return;
  const line = `${context.label}: ${schema.note.text}`;
  if (schema.note.incomplete) context.logger.warn(line);
  else context.logger.log(line);
}

/** The ways to give `check` a shadow, for an error that cannot make one. */
function ways(facts: LiveFacts): string {
  return (
    `give a database to use instead: --shadow-url <url> (or SHADOW_DATABASE_URL; the API: { shadow: { url } }), best a clone or branch ` +
    `of production, or an empty database it fills with the live schema; or let it create a temporary one on the live server, ` +
    `which needs CREATEDB (ALTER ROLE ${quoteIdentifier(facts.user)} CREATEDB)`
  );
}

/**
 * A new database on the live server, with the live one's encoding, locale and settings, filled
 * with its schema (for a replay, left empty, and only when the purpose allows the live server).
 */
async function openTemporary(live: DataSource, facts: LiveFacts, context: ShadowContext, purpose: ShadowPurpose): Promise<ShadowDatabase> {
  const replay = purpose.kind === 'replay';
  if (replay && !purpose.onLiveServer) {
    throw new AutoMigratorConfigError(
      `${context.label}: replaying the history runs every applied migration's code again, and a temporary database for it would be on the live server: ` +
        `give an empty database on another server (--shadow-url <url>, or SHADOW_DATABASE_URL), or allow the live server (--replay-on-live-server; ` +
        `statements that could reach outside the shadow stop the replay).`,
    );
  }
  const refuse = (why: string) =>
    new AutoMigratorConfigError(
      replay
        ? `${context.label}: the history is replayed in a temporary database, and ${why}: give an empty database (--shadow-url <url>), or ALTER ROLE ${quoteIdentifier(facts.user)} CREATEDB.`
        : `${context.label}: check and plan never run the pending migrations on the live database, and ${why}: ${ways(facts)}.`,
    );
  if (!facts.canCreateDatabase) throw refuse(`the role "${facts.user}" may not create the temporary database they run in (no CREATEDB)`);
  const schema = replay ? undefined : await copyLiveSchema(live, facts.serverMajor);
  await dropStaleShadows(live);
  if (facts.serverMajor <= 14) {
    context.logger.warn(
      `${context.label}: creating the temporary shadow database makes PostgreSQL ${facts.serverMajor} write a checkpoint, which a busy server feels; ` +
        `give --shadow-url (a clone or an empty database) to avoid it`,
    );
  }
  const name = `${TEMPORARY_PREFIX}${Date.now().toString(36)}_${process.pid}_${randomBytes(3).toString('hex')}`;
  const locale =
    facts.icuLocale === undefined
      ? ''
      : facts.localeProvider === 'i'
        ? ` LOCALE_PROVIDER icu ICU_LOCALE ${quoteLiteral(facts.icuLocale)}`
        : facts.localeProvider === 'b'
          ? ` LOCALE_PROVIDER builtin BUILTIN_LOCALE ${quoteLiteral(facts.icuLocale)}`
          : '';
  await live.query(
    `CREATE DATABASE ${quoteIdentifier(name)} TEMPLATE template0 ENCODING ${quoteLiteral(facts.encoding)} ` +
      `LC_COLLATE ${quoteLiteral(facts.collate)} LC_CTYPE ${quoteLiteral(facts.ctype)}${locale}`,
  );
  const drop = async () => {
    await live.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}${facts.serverMajor >= 13 ? ' WITH (FORCE)' : ''}`);
  };
  let connected: { dataSource: DataSource; queryRunner: QueryRunner } | undefined;
  try {
    await live.query(
      `COMMENT ON DATABASE ${quoteIdentifier(name)} IS ${quoteLiteral(
        `auto-migrator ${replay ? 'status --replay: a temporary database replaying the history' : 'check: a temporary copy of the schema'} of "${facts.database}", ` +
          `made ${new Date().toISOString()} by process ${process.pid}; dropped when it ends`,
      )}`,
    );
    for (const statement of databaseSettingStatements(name, facts.databaseSettings)) await live.query(statement);
    connected = await connect(live, { database: name }, context);
    const [where] = (await connected.queryRunner.query('SELECT current_database() AS name')) as Array<{ name: string }>;
    invariant(where?.name === name, `the shadow connection reached database "${where?.name}", not the temporary "${name}"`);
    if (schema) await applySchema(connected.queryRunner, schema.sql);
  } catch (error) {
    await disconnect(connected);
    await drop().catch(() => undefined);
    throw error;
  }
  const { dataSource, queryRunner } = connected;
  if (schema) {
    context.logger.log(`${context.label}: the pending migrations run in a temporary database, "${name}", with the live schema`);
    sayHowCopied(schema, context);
  } else {
    context.logger.log(`${context.label}: the applied migrations are replayed in a temporary database, "${name}", on the live server`);
  }
  return new ShadowDatabase(dataSource, queryRunner, facts.settings, `temporary database "${name}"`, true, async () => {
    await disconnect(connected);
    await drop();
  });
}

/** The database at `url`: a copy of the live one as it is, or an empty one filled with its schema (and emptied at the end). */
async function openGiven(
  live: DataSource,
  url: string,
  facts: LiveFacts,
  context: ShadowContext,
  purpose: ShadowPurpose,
): Promise<ShadowDatabase> {
  const target = shadowTarget(live, url, context);
  const connected = await connect(live, { url }, context);
  try {
    const { dataSource, queryRunner } = connected;
    const [row] = (await queryRunner.query(
      `SELECT pg_postmaster_start_time()::text || '/' || (SELECT oid FROM pg_database WHERE datname = current_database()) AS identity,
         current_setting('server_version_num')::int / 10000 AS major,
         NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE ${userSchema('n.nspname')})
         AND NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname <> 'plpgsql') AS empty`,
    )) as Array<{ identity: string; major: number; empty: boolean }>;
    if (row?.identity === facts.identity) {
      throw new AutoMigratorConfigError(
        `${context.label}: the shadow database URL names the live database itself (${target}); give a clone, a branch or an empty database.`,
      );
    }
    if (purpose.kind === 'replay') return openForReplay(connected, row, target, facts, context, purpose.onLiveServer);
    if (row?.empty) {
      const schema = await copyLiveSchema(live, facts.serverMajor);
      await applySchema(queryRunner, schema.sql);
      context.logger.log(`${context.label}: the pending migrations run in the shadow database ${target}, filled with the live schema`);
      sayHowCopied(schema, context);
      return new ShadowDatabase(dataSource, queryRunner, facts.settings, `shadow database ${target}`, true, async () => {
        await emptyDatabase(queryRunner).catch(() => undefined);
        await disconnect(connected);
      });
    }
    // A copy: its migrations table lists what the live one lists (read only now, when a URL's database is not empty).
    const [applied, liveApplied] = await Promise.all([readApplied(dataSource, queryRunner), readApplied(live)]);
    const same = applied !== undefined && liveApplied !== undefined && applied.join('\n') === liveApplied.join('\n');
    if (!same) {
      throw new AutoMigratorConfigError(
        `${context.label}: the shadow database (${target}) is not empty and is not a copy of the live one: ` +
          `${applied === undefined ? 'it has no migrations table' : `its migrations table lists ${applied.length} migration(s), the live one ${liveApplied?.length ?? 0}`}. ` +
          `Give a fresh clone or branch of production, or an empty database.`,
      );
    }
    context.logger.log(`${context.label}: the pending migrations run in the shadow database ${target}, a copy of the live one`);
    return new ShadowDatabase(dataSource, queryRunner, facts.settings, `shadow database ${target}`, false, () => disconnect(connected));
  } catch (error) {
    await disconnect(connected);
    throw error;
  }
}

/**
 * A given database for a replay: empty, of the live server's PostgreSQL major (the two schemas
 * are compared as each server prints its catalog), and on another server unless allowed.
 */
function openForReplay(
  connected: { dataSource: DataSource; queryRunner: QueryRunner },
  row: { identity: string; major: number; empty: boolean } | undefined,
  target: string,
  facts: LiveFacts,
  context: ShadowContext,
  onLiveServer: boolean,
): ShadowDatabase {
  const refuse = (why: string) => new AutoMigratorConfigError(`${context.label}: the history cannot be replayed in ${target}: ${why}.`);
  if (!row?.empty) throw refuse('it is not empty (a replay builds the schema from nothing; give an empty database)');
  if (Number(row.major) !== facts.serverMajor)
    throw refuse(
      `it runs PostgreSQL ${row.major} and the live database ${facts.serverMajor}; their catalogs are not compared across majors`,
    );
  const sameServer = row.identity.slice(0, row.identity.lastIndexOf('/')) === facts.server;
  if (sameServer && !onLiveServer)
    throw refuse('it is on the live server, where replaying runs every applied migration again (allow it with --replay-on-live-server)');
  context.logger.log(`${context.label}: the applied migrations are replayed in the shadow database ${target}`);
  const cleanUp = async () => {
    await emptyDatabase(connected.queryRunner).catch(() => undefined);
    await disconnect(connected);
  };
  return new ShadowDatabase(
    connected.dataSource,
    connected.queryRunner,
    facts.settings,
    `shadow database ${target}`,
    true,
    cleanUp,
    sameServer,
  );
}

/** What a shadow URL names, for messages (its password left out); an AutoMigratorConfigError when it is no URL. */
export function shadowTarget(live: DataSource, url: string, context: ShadowContext): string {
  try {
    const target = describeConnectionTarget({ ...live.options, url } as DataSourceOptions);
    new URL(url);
    return target;
  } catch {
    throw new AutoMigratorConfigError(`${context.label}: the shadow database URL is not a valid URL (--shadow-url / SHADOW_DATABASE_URL).`);
  }
}

/** A DataSource for the shadow: the live one's options (entities, migrations, logging) on another database, with a session of its own. */
export async function connect(
  live: DataSource,
  where: { database: string } | { url: string },
  context: ShadowContext,
): Promise<{ dataSource: DataSource; queryRunner: QueryRunner }> {
  const options = primaryOptions(live.options) as DataSourceOptions & { url?: string };
  let url = 'url' in where ? where.url : options.url;
  if ('database' in where && url !== undefined) {
    const parsed = new URL(url);
    parsed.pathname = `/${encodeURIComponent(where.database)}`;
    url = parsed.toString();
  }
  const dataSource = new DataSource({
    ...options,
    ...('database' in where ? { database: where.database } : {}),
    ...(url === undefined ? {} : { url }),
    synchronize: false,
    migrationsRun: false,
    dropSchema: false,
    // PostgreSQL: TypeORM would create the extensions the entities need (uuid-ossp) on connecting,
    // before the shadow is looked at: a given empty database would no longer be. The shadow gets
    // the live database's extensions from its copy of the schema, or (a replay) explicitly.
    installExtensions: false,
    // A query result cache (Redis, say) is the application's, not the shadow's.
    cache: false,
  } as DataSourceOptions);
  redactDataSourceLogger(dataSource, context.redactor);
  await dataSource.initialize();
  const queryRunner = dataSource.createQueryRunner('master');
  try {
    await queryRunner.connect();
  } catch (error) {
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
  return { dataSource, queryRunner };
}

export async function disconnect(connected: { dataSource: DataSource; queryRunner: QueryRunner } | undefined): Promise<void> {
  if (!connected) return;
  await connected.queryRunner.release().catch(() => undefined);
  await connected.dataSource.destroy().catch(() => undefined);
}

/** Drops every schema of a shadow database it filled (extensions with them), leaving it as empty as it was given. */
async function emptyDatabase(queryRunner: QueryRunner): Promise<void> {
  await queryRunner.query(
    `DO $$ DECLARE s text; BEGIN
       FOR s IN SELECT nspname FROM pg_namespace WHERE ${userSchema('nspname')} LOOP
         EXECUTE format('DROP SCHEMA %I CASCADE', s);
       END LOOP;
     END $$`,
  );
  await queryRunner.query('CREATE SCHEMA public');
}

/**
 * Temporary shadows left by runs that were killed (nobody connected, older than a few minutes) are
 * dropped: best effort, a shadow in use refuses to be dropped and is left alone.
 */
async function dropStaleShadows(live: DataSource): Promise<void> {
  const rows = (await live.query(
    `SELECT d.datname FROM pg_database d WHERE d.datname LIKE $1
       AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid)`,
    [`${TEMPORARY_PREFIX.replaceAll('_', '\\_')}%`],
  )) as Array<{ datname: string }>;
  for (const { datname } of rows) {
    const created = Number.parseInt(datname.slice(TEMPORARY_PREFIX.length).split('_')[0] ?? '', 36);
    if (!Number.isFinite(created) || Date.now() - created < STALE_AFTER_MS) continue;
    await live.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(datname)}`).catch(() => undefined);
  }
}
