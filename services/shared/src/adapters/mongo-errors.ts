/*
 * Error tests that need no driver at runtime, so code that only migrates or classifies errors
 * does not load the mongodb package.
 */

/**
 * True for a duplicate-key error (code 11000) of any unique index, `_id` included. Which index
 * it was is deliberately not reported: FerretDB does not name it (no `keyPattern`/`keyValue`).
 */
export function isMongoDuplicateKeyError(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === 11000;
}
