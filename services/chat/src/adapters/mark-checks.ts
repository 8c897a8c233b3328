import type { MarkCountQuery, MarkKind, MarkRecord } from "../ports/message-mark-store.js";
import { checkId, checkSeq, checkTime } from "./checks.js";

const KINDS: readonly string[] = ["reaction", "pin", "edit", "reply"];

export function checkMarkKind(value: unknown): MarkKind {
  if (!KINDS.includes(value as string)) throw new RangeError(`unknown mark kind ${String(value)}`);
  return value as MarkKind;
}

/** The key and user of a mark of `kind`: a reaction key (1-32 characters) and user; an edit seq; "" for pins. */
export function checkMarkIdentity(kind: MarkKind, key: unknown, userId: unknown): void {
  if (typeof key !== "string" || typeof userId !== "string") throw new RangeError("key and userId must be strings");
  switch (kind) {
    case "reaction":
      if (Array.from(key).length < 1 || Array.from(key).length > 32) throw new RangeError("a reaction key has 1-32 characters");
      checkId("userId", userId);
      return;
    case "edit":
      if (!/^[1-9][0-9]{0,15}$/.test(key) || userId !== "") throw new RangeError("an edit mark's key is its seq and it has no user");
      return;
    case "reply":
      if (!/^[1-9][0-9]{0,15}$/.test(key)) throw new RangeError("a reply mark's key is the reply's seq");
      checkId("userId", userId);
      return;
    case "pin":
      if (key !== "" || userId !== "") throw new RangeError("a pin mark has no key and no user");
  }
}

export function checkMark(m: MarkRecord): void {
  checkId("conversationId", m.conversationId);
  checkSeq("messageSeq", m.messageSeq);
  checkMarkIdentity(checkMarkKind(m.kind), m.key, m.userId);
  checkSeq("seq", m.seq);
  if (m.seq <= m.messageSeq) throw new RangeError("a mark's seq must follow its message's seq");
  if ((m.kind === "edit" || m.kind === "reply") && m.key !== String(m.seq)) throw new RangeError(`a${m.kind === "edit" ? "n edit" : " reply"} mark's key is its own seq`);
  if (typeof m.present !== "boolean") throw new RangeError("present must be a boolean");
  checkId("actorId", m.actorId);
  checkTime("timeMs", m.timeMs);
}

export function checkCountQuery(q: MarkCountQuery): void {
  checkMarkKind(q.kind);
  if (q.messageSeq !== undefined) checkSeq("messageSeq", q.messageSeq);
  if (q.userId !== undefined) checkId("userId", q.userId);
}
