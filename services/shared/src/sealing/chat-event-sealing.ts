import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { EventSchema, MessageCreatedSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { MessageSchema } from "@caas/gen/caas/chat/v1/message_pb.js";
import { ChatEventEnvelopeSchema, SealedChatEventSchema, type ChatEventEnvelope, type SealedChatEvent } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { open, sealedKeyId, type DataKey } from "./sealed-box.js";

/** Where a process gets a tenant's data keys from (chat's keyring, or chat over the mesh). */
export interface DataKeySource {
  /** The key, or undefined when the tenant has no such key (destroyed: its data is unreadable for good). */
  key(tenantId: string, keyId: string): Promise<DataKey | undefined>;
}

/** The additional data a log entry's body is sealed with: it opens only as this entry of this tenant. */
export function chatEventAad(tenantId: string, conversationId: string, seq: number): string {
  return `chat-event|${tenantId}|${conversationId}|${seq}`;
}

/** What a log entry's header holds (the columns the log indexes), for entries that cannot be opened. */
export interface EntryHeader {
  conversationId: string;
  seq: number;
  eventId: string;
  actorId: string;
  createTimeMs: number;
  countable: boolean;
}

/**
 * The id shown for a message that can no longer be read: chat's message-id layout (UUIDv7 of the
 * send time whose last 40 bits are the seq) with its random bits zero. The real id's random bits
 * were inside the sealed body; the seq still finds the entry.
 */
export function unreadableMessageId(seq: number, createTimeMs: number): string {
  const b = Buffer.alloc(16);
  b.writeUIntBE(Math.max(0, createTimeMs), 0, 6);
  b[6] = 0x70;
  b[8] = 0x80;
  b.writeUIntBE(seq, 11, 5);
  const hex = b.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The Event shown for an entry whose key was destroyed: the header, flagged redacted, and for a
 * new message a MessageCreated with the ids only, like a message deleted for everyone.
 */
export function unreadableEvent(h: EntryHeader): Event {
  const createTime = timestampFromMs(h.createTimeMs);
  const payload: Event["payload"] = h.countable
    ? {
        case: "messageCreated",
        value: create(MessageCreatedSchema, {
          message: create(MessageSchema, { id: unreadableMessageId(h.seq, h.createTimeMs), conversationId: h.conversationId, seq: BigInt(h.seq), senderId: h.actorId, createTime }),
        }),
      }
    : { case: undefined };
  return create(EventSchema, { conversationId: h.conversationId, seq: BigInt(h.seq), eventId: h.eventId, actorId: h.actorId, createTime, redacted: true, payload });
}

/**
 * Opens a sealed body with the tenant's key; undefined when the key is gone. A body that is not
 * sealed (written before encryption at rest) is returned as it is. Throws when the body was
 * altered or does not belong to `aad` (never silently shown as redacted).
 */
export async function openBody(keys: DataKeySource, tenantId: string, body: Uint8Array, aad: string): Promise<Uint8Array | undefined> {
  const keyId = sealedKeyId(body);
  if (keyId === undefined) return body;
  const key = await keys.key(tenantId, keyId);
  return key ? open(key, body, aad) : undefined;
}

/** The sealed envelope of a stored entry, as chat's outbox relay publishes it: the stored bytes, not re-encrypted. */
export function sealedEnvelopeValue(tenantId: string, h: EntryHeader & { redacted: boolean }, body: Uint8Array, correlationId: string): ChatEventEnvelope {
  const header = create(EventSchema, {
    conversationId: h.conversationId,
    seq: BigInt(h.seq),
    eventId: h.eventId,
    actorId: h.actorId,
    createTime: timestampFromMs(h.createTimeMs),
    redacted: h.redacted,
  });
  return create(ChatEventEnvelopeSchema, {
    tenantId,
    conversationId: h.conversationId,
    correlationId,
    payload: { case: "sealedEvent", value: create(SealedChatEventSchema, { header, sealed: body, countable: h.countable }) },
  });
}

/**
 * An envelope as consumers handle it: a sealed one opened into the `event` case (once per record,
 * whatever the number of recipients the consumer serves), an unreadable one as its redacted form;
 * other cases unchanged.
 */
export async function openEnvelope(keys: DataKeySource, env: ChatEventEnvelope): Promise<ChatEventEnvelope> {
  if (env.payload.case !== "sealedEvent") return env;
  const sealed: SealedChatEvent = env.payload.value;
  const h = sealed.header ?? create(EventSchema);
  const seq = Number(h.seq);
  const body = await openBody(keys, env.tenantId, sealed.sealed, chatEventAad(env.tenantId, env.conversationId, seq));
  const event = body
    ? fromBinary(EventSchema, body)
    : unreadableEvent({
        conversationId: env.conversationId,
        seq,
        eventId: h.eventId,
        actorId: h.actorId,
        createTimeMs: h.createTime ? timestampMs(h.createTime) : 0,
        countable: sealed.countable,
      });
  return create(ChatEventEnvelopeSchema, { tenantId: env.tenantId, conversationId: env.conversationId, correlationId: env.correlationId, payload: { case: "event", value: event } });
}

/** Serialized Event bytes (for sealing). */
export function eventBytes(e: Event): Uint8Array {
  return toBinary(EventSchema, e);
}
