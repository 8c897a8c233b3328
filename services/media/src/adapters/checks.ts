import { MAX_LINKS_PAGE, MAX_SWEEP_BATCH, type MediaRecord } from "../ports/media-store.js";

import { tenantOf } from "@caas/shared/checks";

/** The checks every store shares come from the kit; re-exported so each adapter imports its checks from one place. */
export { tenantOf };

/*
 * Argument checks shared by the MediaStore adapters, so every adapter refuses exactly the same
 * inputs. A bad argument is a programming error: RangeError / TypeError.
 */

/** An id: a non-empty string of at most 128 characters without "|" (it joins document ids). */
export function checkId(what: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || value.length > 128 || value.includes("|")) {
    throw new RangeError(`${what} must be a string of 1-128 characters without "|"`);
  }
  return value;
}

/** 1..100 distinct ids. */
export function checkIdList(what: string, values: unknown): string[] {
  if (!Array.isArray(values) || values.length > 100) throw new RangeError(`${what} must be an array of at most 100 ids`);
  const ids = values.map((v) => checkId(what, v));
  if (new Set(ids).size !== ids.length) throw new RangeError(`${what} must not repeat an id`);
  return ids;
}

/** A non-negative safe integer (times in epoch ms, byte counts). */
export function checkCount(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative integer`);
  return value;
}

/** A page size of linkedConversations. */
export function checkLimit(limit: unknown): number {
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_LINKS_PAGE) throw new RangeError(`limit must be 1..${MAX_LINKS_PAGE}`);
  return limit;
}

/** A batch size of uploadsToSweep. */
export function checkSweepLimit(limit: unknown): number {
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_SWEEP_BATCH) throw new RangeError(`limit must be 1..${MAX_SWEEP_BATCH}`);
  return limit;
}

/** The blob key of a READY record: non-empty, at most 512 characters. */
export function checkBlobKeyField(value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || value.length > 512) throw new RangeError("blobKey must be 1-512 characters");
  return value;
}

/** A new record as `create` accepts it: pending, live, every field in range. */
export function checkNewRecord(r: MediaRecord): MediaRecord {
  checkId("id", r.id);
  checkId("ownerId", r.ownerId);
  if (typeof r.name !== "string" || r.name.length === 0 || r.name.length > 255) throw new RangeError("name must be 1-255 characters");
  if (typeof r.mimeType !== "string" || r.mimeType.length < 3 || r.mimeType.length > 255) throw new RangeError("mimeType must be 3-255 characters");
  if (checkCount("maxBytes", r.maxBytes) < 1) throw new RangeError("maxBytes must be positive");
  checkCount("createTimeMs", r.createTimeMs);
  if (r.state !== "pending" || r.sizeBytes !== 0 || r.readyTimeMs !== 0 || r.deleteTimeMs !== 0 || r.blobKey !== "") {
    throw new RangeError("a new media record is pending, empty, without blob key, not ready and not deleted");
  }
  return r;
}
