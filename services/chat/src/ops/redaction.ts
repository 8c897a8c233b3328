import { create } from "@bufbuild/protobuf";
import { MessageCreatedSchema, MessageDeletedSchema, MessageEditedSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { LogEvent } from "@caas/shared/eventing/log";
import type { TenantScope } from "@caas/shared/tenant-scope";
import type { ChatCore } from "../core.js";
import { decodeEvent, encodeEvent, payloadHash, systemKey } from "../domain/events.js";
import { messageOf } from "../domain/message-view.js";

/**
 * Replaces a MessageCreated event's body with its tombstone (the same event, the message's body
 * redacted), drops its mention records and empties the conversation's last-message preview if it
 * is this message.
 */
export async function redactMessage(core: ChatCore, scope: TenantScope, log: LogEvent): Promise<void> {
  const event = decodeEvent(log);
  const tombstone = messageOf({ ...log, redacted: true }, event);
  if (!tombstone) return;
  // First, so that a retry after a crash (which finds the message not yet redacted) gets here again.
  await core.stores.mentions.forget(scope, log.conversationId, log.seq);
  event.payload = { case: "messageCreated", value: create(MessageCreatedSchema, { message: tombstone }) };
  await core.stores.events.redact(scope, log.conversationId, log.seq, encodeEvent(event));
  await core.stores.conversations.redactLastMessage(scope, log.conversationId, log.seq);
}

/**
 * Redacts every MessageEdited event of a message (known from the marks projection): each keeps
 * its message id, edit time and the message's seq, sender and send time, and loses text, mentions and custom data.
 */
export async function redactEdits(core: ChatCore, scope: TenantScope, conversationId: string, messageSeq: number): Promise<void> {
  const edits = (await core.stores.marks.ofMessages(scope, conversationId, [messageSeq])).filter((m) => m.kind === "edit");
  for (const mark of edits) {
    const [log] = await core.stores.events.read(scope, conversationId, mark.seq - 1, 1);
    if (!log || log.seq !== mark.seq || log.redacted) continue;
    const event = decodeEvent(log);
    if (event.payload.case !== "messageEdited") continue;
    const { messageId, editTime, messageSeq, senderId, messageCreateTime } = event.payload.value;
    const kept = { messageId, messageSeq, senderId, ...(editTime ? { editTime } : {}), ...(messageCreateTime ? { messageCreateTime } : {}) };
    event.payload = { case: "messageEdited", value: create(MessageEditedSchema, kept) };
    await core.stores.events.redact(scope, conversationId, log.seq, encodeEvent(event));
  }
}

/**
 * Deletes a message for everyone on the platform's behalf (erasure, retention), as DeleteMessage
 * does it: MessageDeleted with the sender as the actor and the same idempotency key (so a
 * concurrent DeleteMessage and this never both append), then the body and its edits redacted.
 */
export async function deleteForEveryone(core: ChatCore, scope: TenantScope, log: LogEvent, event: Event, opts: { expired?: boolean } = {}): Promise<void> {
  const message = messageOf(log, event);
  if (!message) return;
  await core.writer.append(scope, {
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
        expired: opts.expired ?? false,
      }),
    }),
  });
  await redactMessage(core, scope, log);
  await redactEdits(core, scope, log.conversationId, log.seq);
}
