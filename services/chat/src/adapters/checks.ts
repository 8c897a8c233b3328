import type { ConversationKind, JoinPolicyKind } from "../ports/conversation-store.js";
import type { RoleKind } from "../ports/member-store.js";

import { checkLimit, checkTime, tenantOf } from "@caas/shared/checks";

/** The checks every store shares come from the kit; re-exported so each adapter imports its checks from one place. */
export { checkLimit, checkTime, tenantOf };

/*
 * Argument checks shared by the adapters of the chat ports, so every adapter refuses exactly the
 * same inputs. A bad argument is a programming error: RangeError / TypeError.
 */

/** An id: a non-empty string of at most `max` characters without "|" (it joins document ids). */
export function checkId(what: string, value: unknown, max = 128): string {
  if (typeof value !== "string" || value.length === 0 || value.length > max || value.includes("|")) {
    throw new RangeError(`${what} must be a string of 1-${max} characters without "|"`);
  }
  return value;
}

/** A list of ids, at most `max` of them. */
export function checkIds(what: string, values: unknown, max: number): string[] {
  if (!Array.isArray(values) || values.length > max) throw new RangeError(`${what} must be an array of at most ${max} ids`);
  return values.map((v) => checkId(what, v));
}

/** A seq or counter: a non-negative safe integer. */
/** At most `max` seqs (the bulk paths' pages of messages). */
export function checkSeqs(what: string, values: unknown, max: number): number[] {
  if (!Array.isArray(values) || values.length > max) throw new RangeError(`${what} must be an array of at most ${max} seqs`);
  return values.map((v) => checkSeq(what, v));
}

export function checkSeq(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative integer`);
  return value;
}

const KINDS: readonly string[] = ["direct", "group", "channel"];
const POLICIES: readonly string[] = ["open", "invite_only", "closed"];
const ROLES: readonly string[] = ["owner", "admin", "member"];

export function checkKind(value: unknown): ConversationKind {
  if (!KINDS.includes(value as string)) throw new RangeError(`unknown conversation kind ${String(value)}`);
  return value as ConversationKind;
}

export function checkJoinPolicy(value: unknown): JoinPolicyKind {
  if (!POLICIES.includes(value as string)) throw new RangeError(`unknown join policy ${String(value)}`);
  return value as JoinPolicyKind;
}

export function checkRole(value: unknown): RoleKind {
  if (!ROLES.includes(value as string)) throw new RangeError(`unknown role ${String(value)}`);
  return value as RoleKind;
}
