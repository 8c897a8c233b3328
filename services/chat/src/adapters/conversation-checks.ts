import type { ActivityQuery, ChangeQuery, EventSummary, NewConversation, ScanQuery, SettingsChange } from "../ports/conversation-store.js";
import { checkId, checkIds, checkJoinPolicy, checkKind, checkLimit, checkSeq, checkTime } from "./checks.js";

/** The arguments of ConversationStore.create, checked the same way by every adapter. */
export function checkConversation(c: NewConversation): void {
  checkId("id", c.id, 64);
  checkKind(c.kind);
  checkJoinPolicy(c.joinPolicy);
  checkId("createdBy", c.createdBy);
  checkTime("createTimeMs", c.createTimeMs);
  if (typeof c.title !== "string" || typeof c.avatarUrl !== "string") throw new RangeError("title and avatarUrl must be strings");
  if ((c.kind === "direct") !== (c.directKey !== undefined)) throw new RangeError("directKey is required for, and only for, DIRECT conversations");
  if (c.directKey !== undefined && (typeof c.directKey !== "string" || c.directKey.length === 0 || c.directKey.length > 300 || c.directKey.startsWith("~"))) {
    throw new RangeError("directKey must be a string of 1-300 characters not starting with '~'");
  }
  if (c.e2ee !== undefined && typeof c.e2ee !== "boolean") throw new RangeError("e2ee must be a boolean");
  if (c.custom !== undefined && (typeof c.custom !== "object" || c.custom === null || Array.isArray(c.custom))) throw new RangeError("custom must be a JSON object");
}

export function checkEventSummary(e: EventSummary): void {
  checkSeq("seq", e.seq);
  checkSeq("countableSeq", e.countableSeq);
  checkTime("timeMs", e.timeMs);
  if (e.lastMessage && e.lastMessage.seq !== e.seq) throw new RangeError("lastMessage.seq must equal seq");
}

export function checkActivityQuery(q: ActivityQuery): void {
  checkIds("ids", q.ids, 10_000);
  checkLimit(q.limit);
  if (q.kind !== undefined) checkKind(q.kind);
  if (q.after) {
    checkTime("after.activityMs", q.after.activityMs);
    checkId("after.id", q.after.id);
  }
}

export function checkChangeQuery(q: ChangeQuery): void {
  checkIds("ids", q.ids, 10_000);
  checkLimit(q.limit);
  if (q.changedAfterMs !== undefined && (typeof q.changedAfterMs !== "number" || !Number.isSafeInteger(q.changedAfterMs))) {
    throw new RangeError("changedAfterMs must be an integer");
  }
  if (q.after) {
    checkTime("after.changeMs", q.after.changeMs);
    checkId("after.id", q.after.id);
  }
}

export function checkScanQuery(q: ScanQuery): void {
  checkLimit(q.limit);
  if (q.afterId !== undefined) checkId("afterId", q.afterId);
}

export function checkSettingsChange(c: SettingsChange): void {
  checkSeq("seq", c.seq);
  checkTime("timeMs", c.timeMs);
  if (c.title !== undefined && typeof c.title !== "string") throw new RangeError("title must be a string");
  if (c.avatarUrl !== undefined && typeof c.avatarUrl !== "string") throw new RangeError("avatarUrl must be a string");
  if (c.joinPolicy !== undefined) checkJoinPolicy(c.joinPolicy);
  if (c.custom !== undefined && c.custom !== null && (typeof c.custom !== "object" || Array.isArray(c.custom))) throw new RangeError("custom must be a JSON object or null");
  if (c.archived !== undefined && typeof c.archived !== "boolean") throw new RangeError("archived must be a boolean");
  if (c.frozen !== undefined && typeof c.frozen !== "boolean") throw new RangeError("frozen must be a boolean");
}
