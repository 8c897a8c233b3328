import type { JsonObject } from "@bufbuild/protobuf";
import { InvalidArgumentError } from "@caas/shared/errors";

/*
 * Semantic input checks beyond the protos' buf.validate rules (which the validation interceptor
 * enforces before a handler runs): they answer INVALID_ARGUMENT with the offending field.
 */

export function invalid(field: string, description: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${description}`, [{ field, description }]);
}

/** `custom` within the server's cap (measured as JSON). */
export function checkCustom(field: string, custom: JsonObject | undefined, maxBytes: number): void {
  if (custom === undefined) return;
  const bytes = Buffer.byteLength(JSON.stringify(custom));
  if (bytes > maxBytes) throw invalid(field, `encodes to ${bytes} bytes; at most ${maxBytes} are allowed`);
}

/** A page size: 0 means `fallback`; the protos bound the maximum. */
export function pageSize(requested: number, fallback: number, max: number): number {
  if (requested < 0 || requested > max) throw invalid("page_size", `must be between 0 and ${max}`);
  return requested === 0 ? fallback : requested;
}

/** Events the log returns per read (its adapters' limit). */
const MAX_LOG_READ = 1000;

/**
 * The events a log scan reads per call (user data, retention): page_size as the protos allow it
 * (up to 2000), at most what one read of the log returns.
 */
export function scanPageSize(requested: number, fallback: number): number {
  return Math.min(pageSize(requested, fallback, 2000), MAX_LOG_READ);
}

const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;

/** A user id as the protos define it. */
export function checkUserId(field: string, id: string): string {
  if (!USER_ID.test(id)) throw invalid(field, "must match ^[A-Za-z0-9_.@:-]{1,128}$");
  return id;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** A resource id (UUID). Handlers re-check what the protos declare, for callers without the interceptor. */
export function checkUuid(field: string, id: string): string {
  if (!UUID.test(id)) throw invalid(field, "must be a UUID");
  return id.toLowerCase();
}
