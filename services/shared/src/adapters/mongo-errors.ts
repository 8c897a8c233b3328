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

/**
 * Runs an upsert (an update with `upsert: true` on an `_id` equality), once more if it lost the
 * insert race: two upserts of one missing document at once both try to insert it, and the later
 * fails with a duplicate key. MongoDB 4.2+ retries such an upsert itself; FerretDB does not. The
 * second try finds the document and updates it.
 */
export async function upsertRetryingOnce<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!isMongoDuplicateKeyError(err)) throw err;
    return write();
  }
}
