/**
 * The base of every error this library throws: `error instanceof AutoMigratorError` tells them
 * from a migration's or a driver's own errors (which reach you as their `cause`).
 */
export abstract class AutoMigratorError extends Error {}
