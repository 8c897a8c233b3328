import type { BlockKey, BlockRecord } from "../ports/block-store.js";
import type { RestrictionKey, RestrictionKind, RestrictionRecord } from "../ports/moderation-store.js";
import { checkId, checkLimit, checkSeq, checkTime } from "./checks.js";

/*
 * Argument checks of the ModerationStore and BlockStore, shared by their adapters so every
 * adapter refuses the same inputs (RangeError: a programming error).
 */

const KINDS: readonly string[] = ["mute", "ban"];

export function checkRestrictionKind(value: unknown): RestrictionKind {
  if (!KINDS.includes(value as string)) throw new RangeError(`unknown restriction kind ${String(value)}`);
  return value as RestrictionKind;
}

export function checkRestriction(r: RestrictionRecord): void {
  checkId("conversationId", r.conversationId, 64);
  checkId("userId", r.userId);
  checkRestrictionKind(r.kind);
  if (typeof r.present !== "boolean") throw new RangeError("present must be a boolean");
  checkTime("expireTimeMs", r.expireTimeMs);
  if (typeof r.reason !== "string" || r.reason.length > 512) throw new RangeError("reason must be at most 512 characters");
  checkId("actorId", r.actorId);
  if (checkSeq("seq", r.seq) === 0) throw new RangeError("seq must be positive");
  checkTime("timeMs", r.timeMs);
}

export function checkRestrictionQuery(q: { after?: RestrictionKey; limit: number }): void {
  checkLimit(q.limit);
  if (q.after) checkId("after.userId", q.after.userId);
}

export function checkBlock(b: BlockRecord): void {
  checkId("blockerId", b.blockerId);
  checkId("blockedId", b.blockedId);
  if (b.blockerId === b.blockedId) throw new RangeError("a user cannot block itself");
  checkTime("createTimeMs", b.createTimeMs);
}

export function checkBlockQuery(q: { after?: BlockKey; limit: number }): void {
  checkLimit(q.limit);
  if (q.after) {
    checkTime("after.createTimeMs", q.after.createTimeMs);
    checkId("after.blockedId", q.after.blockedId);
  }
}
