import { create } from "@bufbuild/protobuf";
import { MessageCreatedSchema, MessageDeletedSchema, MessageEditedSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { MAX_APPEND_BATCH, type LogEvent } from "@caas/shared/eventing/log";
import type { TenantScope } from "@caas/shared/tenant-scope";
import type { ChatCore } from "../core.js";
import type { AppendRequest } from "../log-writer.js";
import { decodeEvent, encodeEvent, payloadHash, systemKey } from "../domain/events.js";
import type { Message } from "@caas/gen/caas/chat/v1/message_pb.js";
import { messageOf } from "../domain/message-view.js";

/** A message to delete: its MessageCreated log entry and that entry decoded. */
export interface LoggedMessage {
  log: LogEvent;
  event: Event;
}

/**
 * Replaces a MessageCreated event's body with its tombstone (the same event, the message's body
 * redacted), drops its mention records and empties the conversation's last-message preview if it
 * is this message.
 */
export async function redactMessage(core: ChatCore, scope: TenantScope, log: LogEvent): Promise<void> {
  await redactMessages(core, scope, log.conversationId, [log]);
}

/**
 * `redactMessage` for several messages of one conversation (at most MAX_APPEND_BATCH), a few
 * writes in all. The bodies go last: a message whose body is redacted counts as done (a scan
 * after a crash passes it over), so its mentions and the preview must already be gone.
 */
async function redactMessages(core: ChatCore, scope: TenantScope, conversationId: string, logs: LogEvent[]): Promise<void> {
  const tombstones = logs.flatMap((log) => {
    const event = decodeEvent(log);
    const tombstone = messageOf({ ...log, redacted: true }, event);
    if (!tombstone) return [];
    event.payload = { case: "messageCreated", value: create(MessageCreatedSchema, { message: tombstone }) };
    return [{ seq: log.seq, body: encodeEvent(event) }];
  });
  if (tombstones.length === 0) return;
  const seqs = tombstones.map((t) => t.seq);
  await Promise.all([core.stores.mentions.forget(scope, conversationId, seqs), core.stores.conversations.redactLastMessage(scope, conversationId, seqs)]);
  await redactBodies(core, scope, conversationId, tombstones);
}

/**
 * Redacts every MessageEdited event of a message (known from the marks projection): each keeps
 * its message id, edit time and the message's seq, sender and send time, and loses text, mentions and custom data.
 */
export async function redactEdits(core: ChatCore, scope: TenantScope, conversationId: string, messageSeq: number): Promise<void> {
  await redactEditsOf(core, scope, conversationId, [messageSeq]);
}

/** `redactEdits` for several messages of one conversation (at most 1000): one marks read, the edits read by seq, one write. */
async function redactEditsOf(core: ChatCore, scope: TenantScope, conversationId: string, messageSeqs: number[]): Promise<void> {
  const edits = (await core.stores.marks.ofMessages(scope, conversationId, messageSeqs)).filter((m) => m.kind === "edit");
  // Edits are few: each is one point read (a one-event read is a point read on every adapter).
  const logs = await Promise.all(edits.map(async (mark) => (await core.stores.events.read(scope, conversationId, mark.seq - 1, 1))[0]));
  const redacted = logs.flatMap((log) => {
    if (!log || log.redacted) return [];
    const event = decodeEvent(log);
    if (event.payload.case !== "messageEdited") return [];
    const { messageId, editTime, messageSeq, senderId, messageCreateTime } = event.payload.value;
    const kept = { messageId, messageSeq, senderId, ...(editTime ? { editTime } : {}), ...(messageCreateTime ? { messageCreateTime } : {}) };
    event.payload = { case: "messageEdited", value: create(MessageEditedSchema, kept) };
    return [{ seq: log.seq, body: encodeEvent(event) }];
  });
  await redactBodies(core, scope, conversationId, redacted);
}

/** One write: `redact` for one event, `redactBatch` for more. */
async function redactBodies(core: ChatCore, scope: TenantScope, conversationId: string, bodies: { seq: number; body: Uint8Array }[]): Promise<void> {
  if (bodies.length === 1) await core.stores.events.redact(scope, conversationId, bodies[0]!.seq, bodies[0]!.body);
  else if (bodies.length > 1) await core.stores.events.redactBatch(scope, conversationId, bodies);
}

/**
 * Deletes a message for everyone on the platform's behalf (erasure, retention), as DeleteMessage
 * does it: MessageDeleted with the sender as the actor and the same idempotency key (so a
 * concurrent DeleteMessage and this never both append), then the body and its edits redacted.
 */
export async function deleteForEveryone(core: ChatCore, scope: TenantScope, log: LogEvent, event: Event, opts: { expired?: boolean } = {}): Promise<void> {
  await deleteManyForEveryone(core, scope, log.conversationId, [{ log, event }], opts);
}

/**
 * `deleteForEveryone` for a page of messages of ONE conversation, in runs of MAX_APPEND_BATCH:
 * their MessageDeleted events in one batch append (each under its message's idempotency key, so
 * a retry after a crash anywhere in between commits none twice), then their edits and bodies
 * redacted in a few writes. A message counts as done once its body is redacted, which is last.
 */
export async function deleteManyForEveryone(core: ChatCore, scope: TenantScope, conversationId: string, messages: LoggedMessage[], opts: { expired?: boolean } = {}): Promise<void> {
  const views = messages.flatMap(({ log, event }) => {
    if (log.conversationId !== conversationId) throw new RangeError("deleteManyForEveryone: every message must be of one conversation");
    const message = messageOf(log, event);
    return message ? [{ log, message }] : [];
  });
  for (let i = 0; i < views.length; i += MAX_APPEND_BATCH) {
    const run = views.slice(i, i + MAX_APPEND_BATCH);
    await core.writer.appendBatch(
      scope,
      run.map(({ log, message }) => deletion(log, message, opts.expired ?? false)),
    );
    const logs = run.map((r) => r.log);
    await redactEditsOf(
      core,
      scope,
      conversationId,
      logs.map((l) => l.seq),
    );
    await redactMessages(core, scope, conversationId, logs);
  }
}

/** The MessageDeleted append of one message, on its sender's behalf. */
function deletion(log: LogEvent, message: Message, expired: boolean): Omit<AppendRequest, "headHint" | "signal" | "alongside"> {
  return {
    conversationId: log.conversationId,
    actorId: message.senderId,
    clientMessageId: systemKey("message deleted", message.id),
    payloadHash: payloadHash({ deleted: message.id }),
    countable: false,
    payload: () => ({
      case: "messageDeleted",
      value: create(MessageDeletedSchema, {
        messageId: message.id,
        mediaIds: message.attachments.map((a) => a.mediaId),
        messageSeq: BigInt(log.seq),
        senderId: message.senderId,
        ...(message.createTime ? { messageCreateTime: message.createTime } : {}),
        expired,
      }),
    }),
  };
}
