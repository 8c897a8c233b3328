import { createHash } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EventSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { Message } from "@caas/gen/caas/chat/v1/message_pb.js";
import type { LogEvent } from "@caas/shared/eventing/log";
import type { MessageSummaryRecord } from "../ports/conversation-store.js";

/** What the log assigned to an event, plus its identity: everything an Event needs besides its payload. */
export interface EventHeader {
  conversationId: string;
  seq: number;
  eventId: string;
  actorId: string;
  createTimeMs: number;
}

/** A caas.chat.v1.Event with the given payload. */
export function buildEvent(h: EventHeader, payload: Event["payload"]): Event {
  return create(EventSchema, {
    conversationId: h.conversationId,
    seq: BigInt(h.seq),
    eventId: h.eventId,
    actorId: h.actorId,
    createTime: timestampFromMs(h.createTimeMs),
    payload,
  });
}

/** The Event stored in a log entry's body, marked `redacted` when the entry's body was redacted in place. */
export function decodeEvent(e: LogEvent): Event {
  const event = fromBinary(EventSchema, e.body);
  if (e.redacted) event.redacted = true;
  return event;
}

export function encodeEvent(e: Event): Uint8Array {
  return toBinary(EventSchema, e);
}

/** Kinds of events the service makes idempotent with a key of its own (not a client's). */
export type SystemKeyKind =
  | "conversation created"
  | "conversation deleted"
  | "member joined"
  | "member left"
  | "member removed"
  | "message deleted"
  | "message edited"
  | "reaction added"
  | "reaction removed"
  | "message pinned"
  | "message unpinned";

/**
 * The idempotency key of an event the service appends on its own behalf (membership changes,
 * creation), derived from what makes it unique (e.g. the user and the membership period), so a
 * retried request appends it once. Keys contain a space, which client_message_id (printable
 * ASCII without space) cannot, so a client key never collides with one.
 */
export function systemKey(kind: SystemKeyKind, ...parts: (string | number)[]): string {
  const digest = createHash("sha256").update(parts.map(String).join("\n")).digest("base64url").slice(0, 32);
  return `${kind} ${digest}`;
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** SHA-256 of the canonical JSON of a request's payload: a retry with another payload differs. */
export function payloadHash(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("base64url");
}

/** Characters of a text preview (MessageSummary.text_preview). */
export const PREVIEW_CHARS = 200;

/** The conversation-list summary of a message. */
export function summaryOf(m: Message, createTimeMs: number): MessageSummaryRecord {
  return {
    messageId: m.id,
    seq: Number(m.seq),
    senderId: m.senderId,
    textPreview: Array.from(m.text).slice(0, PREVIEW_CHARS).join(""),
    attachmentCount: m.attachments.length,
    createTimeMs,
  };
}
