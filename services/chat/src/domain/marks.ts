import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { EventLogStore, LogEvent } from "@caas/shared/eventing/log";
import type { TenantScope } from "@caas/shared/tenant-scope";
import type { MarkRecord, MessageMarkStore } from "../ports/message-mark-store.js";
import { decodeEvent } from "./events.js";
import { seqOfMessageId } from "./message-ids.js";

/**
 * The message mark an event sets (ADR 0018): reactions added or removed, pins and unpins, edits,
 * and thread replies (a reply's MessageCreated marks its root, ADR 0021; a redacted reply still
 * names its root, so it stays counted). Undefined for every other event.
 */
export function markOf(log: LogEvent, event: Event): MarkRecord | undefined {
  const p = event.payload;
  const base = { conversationId: log.conversationId, seq: log.seq, actorId: log.actorId, timeMs: log.createTimeMs };
  const on = (messageId: string) => seqOfMessageId(messageId);
  switch (p.case) {
    case "reactionAdded":
    case "reactionRemoved": {
      const messageSeq = on(p.value.messageId);
      if (messageSeq === undefined) return undefined;
      return { ...base, messageSeq, kind: "reaction", key: p.value.reaction, userId: log.actorId, present: p.case === "reactionAdded" };
    }
    case "messagePinned":
    case "messageUnpinned": {
      const messageSeq = on(p.value.messageId);
      if (messageSeq === undefined) return undefined;
      return { ...base, messageSeq, kind: "pin", key: "", userId: "", present: p.case === "messagePinned" };
    }
    case "messageEdited": {
      const messageSeq = on(p.value.messageId);
      if (messageSeq === undefined) return undefined;
      return { ...base, messageSeq, kind: "edit", key: String(log.seq), userId: "", present: true };
    }
    case "messageCreated": {
      const parent = p.value.message?.threadParentId ?? "";
      const messageSeq = parent === "" ? undefined : on(parent);
      if (messageSeq === undefined || messageSeq >= log.seq) return undefined;
      return { ...base, messageSeq, kind: "reply", key: String(log.seq), userId: p.value.message!.senderId, present: true };
    }
    default:
      return undefined;
  }
}

/**
 * Rebuilds a conversation's message marks by replaying its whole log into `marks`. Applying is
 * idempotent and order-free, so this repairs a projection left behind (a crash between a commit
 * and its mark) without clearing anything first. Returns how many marks were applied.
 */
export async function replayMarks(scope: TenantScope, conversationId: string, events: EventLogStore, marks: MessageMarkStore, batch = 500): Promise<number> {
  let after = 0;
  let applied = 0;
  for (;;) {
    const page = await events.read(scope, conversationId, after, batch);
    if (page.length === 0) return applied;
    for (const log of page) {
      const mark = markOf(log, decodeEvent(log));
      if (mark) {
        await marks.apply(scope, mark);
        applied++;
      }
    }
    after = page[page.length - 1]!.seq;
  }
}
