import { errorChain } from '../util/error-chain.js';

/** Node socket errors that mean "the database could not be reached or the connection broke". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/** Driver codes for the same: PostgreSQL SQLSTATEs, MySQL/MariaDB codes, SQLite's busy database. */
const DRIVER_CODES = new Set([
  '57P01', // admin_shutdown (also pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovery)
  '53300', // too_many_connections
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_CLIENT_INTERACTION_TIMEOUT',
  'SQLITE_BUSY',
]);

/** MySQL/MariaDB server error numbers for the same, reported by mysql2 as `errno` (often with no `code`). */
const MYSQL_ERRNOS = new Set([
  1040, // too many connections
  1053, // server shutdown in progress
  1927, // connection was killed
  2006, // server has gone away
  2013, // lost connection during query
  4031, // disconnected by the server for inactivity
]);

const CONNECTION_MESSAGES =
  /connection terminated|server closed the connection|connection (?:is |was )?(?:closed|lost|killed)|can't add new command when connection is in closed state|timeout exceeded when trying to connect/i;

/**
 * True when the error, or any error it wraps (`cause`, TypeORM's `driverError`, an
 * AggregateError's `errors`), says the connection failed, rather than a migration's SQL.
 */
export function isConnectionError(error: unknown): boolean {
  for (const { code, errno, message } of errorChain(error)) {
    if (typeof code === 'string') {
      if (NETWORK_CODES.has(code) || DRIVER_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
    }
    if (typeof errno === 'number' && MYSQL_ERRNOS.has(errno)) return true;
    if (typeof message === 'string' && CONNECTION_MESSAGES.test(message)) return true;
  }
  return false;
}
