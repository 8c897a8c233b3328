import type { InviteRecord } from "../ports/invite-store.js";
import { checkId, checkTime } from "./checks.js";

/** The arguments of InviteStore.create, checked the same way by every adapter. */
export function checkInvite(i: InviteRecord): void {
  checkId("id", i.id, 64);
  checkId("conversationId", i.conversationId, 64);
  checkId("codeHash", i.codeHash, 128);
  checkId("createdBy", i.createdBy);
  checkTime("createTimeMs", i.createTimeMs);
  checkTime("expireTimeMs", i.expireTimeMs);
  if (!Number.isSafeInteger(i.maxUses) || i.maxUses < 0) throw new RangeError("maxUses must be a non-negative integer");
  if (i.revokeTimeMs !== 0) throw new RangeError("a new invite is not revoked");
}

/** The arguments of InviteStore.claim. */
export function checkClaim(invite: Pick<InviteRecord, "id" | "maxUses">, userId: string, timeMs: number): void {
  checkId("invite.id", invite.id, 64);
  if (!Number.isSafeInteger(invite.maxUses) || invite.maxUses < 0) throw new RangeError("maxUses must be a non-negative integer");
  checkId("userId", userId);
  checkTime("timeMs", timeMs);
}
