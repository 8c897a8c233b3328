import type { MemberKey, NewMember, RoleKind } from "../ports/member-store.js";
import { checkId, checkLimit, checkRole, checkSeq, checkTime } from "./checks.js";

/** The arguments of MemberStore.join, checked the same way by every adapter. */
export function checkNewMember(m: NewMember): void {
  checkId("conversationId", m.conversationId, 64);
  checkId("userId", m.userId);
  checkRole(m.role);
  if (checkSeq("joinedSeq", m.joinedSeq) === 0) throw new RangeError("joinedSeq must be positive");
  checkTime("joinTimeMs", m.joinTimeMs);
}

export function checkListQuery(q: { after?: MemberKey; role?: RoleKind; limit: number }): void {
  checkLimit(q.limit);
  if (q.role !== undefined) checkRole(q.role);
  if (q.after) {
    checkSeq("after.joinedSeq", q.after.joinedSeq);
    checkId("after.userId", q.after.userId);
  }
}

/** A positive seq of a membership event. */
export function checkEventSeq(seq: number): number {
  if (checkSeq("seq", seq) === 0) throw new RangeError("seq must be positive");
  return seq;
}
