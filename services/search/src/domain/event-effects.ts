import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { SearchDocument } from "../ports/search-index.js";

/** What one conversation event asks of the search index and its caches. */
export type EventEffect =
  /** A state of a message to index (new, edited, or a tombstone). */
  | { kind: "document"; doc: SearchDocument }
  /** A delete written before events carried the message's seq: drop the message by id. */
  | { kind: "remove"; messageId: string }
  /** The conversation was deleted: drop its documents, forget cached lists and pages. */
  | { kind: "conversation-deleted" }
  /** Members whose readable conversations changed. */
  | { kind: "membership"; userIds: string[] }
  /** A conversation's title or settings changed (conversation lists). */
  | { kind: "conversation-updated" }
  /** An edit written before events carried the message's seq: it cannot be applied. */
  | { kind: "edit-without-seq" }
  | { kind: "none" };

/**
 * Maps one event of a conversation's log to its effect on the index. `version` of a document is
 * the event's seq, so a replayed older state never replaces a newer one. A delete for everyone
 * (or a redacted event) becomes a tombstone that keeps its version and no text.
 */
export function effectOf(conversationId: string, seq: number, event: Event): EventEffect {
  const p = event.payload;
  const at = event.createTime ? timestampMs(event.createTime) : 0;
  switch (p.case) {
    case "messageCreated": {
      const m = p.value.message;
      // End-to-end encrypted messages (ciphertext only) are never indexed: there are no words to find.
      if (!m || m.encrypted) return { kind: "none" };
      const gone = event.redacted || m.deleted;
      return {
        kind: "document",
        doc: {
          messageId: m.id,
          conversationId,
          seq,
          version: seq,
          senderId: m.senderId || event.actorId || "system",
          text: gone ? "" : m.text,
          createTimeMs: m.createTime ? timestampMs(m.createTime) : at,
          redacted: gone,
          hasAttachments: !gone && m.attachments.length > 0,
        },
      };
    }
    case "messageEdited":
    case "messageDeleted": {
      if (p.case === "messageEdited" && p.value.encrypted) return { kind: "none" };
      const v = p.value;
      const messageSeq = Number(v.messageSeq);
      if (messageSeq === 0 || v.senderId === "") return p.case === "messageDeleted" ? { kind: "remove", messageId: v.messageId } : { kind: "edit-without-seq" };
      const deleted = p.case === "messageDeleted" || event.redacted;
      return {
        kind: "document",
        doc: {
          messageId: v.messageId,
          conversationId,
          seq: messageSeq,
          version: seq,
          senderId: v.senderId,
          text: p.case === "messageEdited" && !deleted ? p.value.text : "",
          createTimeMs: v.messageCreateTime ? timestampMs(v.messageCreateTime) : at,
          redacted: deleted,
          hasAttachments: p.case === "messageEdited" && !deleted && p.value.messageAttachmentCount > 0,
        },
      };
    }
    case "memberJoined":
      return p.value.member ? { kind: "membership", userIds: [p.value.member.userId] } : { kind: "none" };
    case "memberLeft":
    case "memberRemoved":
    case "memberBanned":
    case "memberUnbanned":
      return { kind: "membership", userIds: [p.value.userId] };
    case "conversationCreated":
      return { kind: "membership", userIds: p.value.members.map((m) => m.userId) };
    case "conversationUpdated":
      return { kind: "conversation-updated" };
    case "conversationDeleted":
      return { kind: "conversation-deleted" };
    default:
      return { kind: "none" };
  }
}
