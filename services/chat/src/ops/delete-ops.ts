import { create } from "@bufbuild/protobuf";
import { DeleteMessageResponseSchema, type DeleteMessageRequest, type DeleteMessageResponse } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { MessageDeletedSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { NotFoundError } from "@caas/shared/errors";
import type { Caller, ChatCore } from "../core.js";
import { payloadHash, systemKey } from "../domain/events.js";
import { checkUuid } from "../domain/input.js";
import { authorizeAction, conversationAttrs, tenantGranted } from "./authorize.js";
import type { MessageOps } from "./message-ops.js";
import { redactEdits, redactMessage } from "./redaction.js";

/**
 * DeleteMessage: delete for everyone (DESIGN "The conversation event log"). MessageDeleted is
 * appended first (idempotent per actor and message), then the MessageCreated event's body is
 * redacted in place, as are its MessageEdited events, and the conversation's last-message
 * preview is emptied. A retry after a crash
 * between the steps finds the message not yet redacted and completes them; once redacted, a call
 * changes nothing.
 */
export class DeleteOps {
  constructor(
    private readonly core: ChatCore,
    private readonly messages: MessageOps,
  ) {}

  async delete(caller: Caller, req: DeleteMessageRequest): Promise<DeleteMessageResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const messageId = checkUuid("message_id", req.messageId);
    // Members, and tenant moderators in any conversation of the tenant (ABAC engine, store of record).
    const { stores } = this.core;
    const [conversation, member] = await Promise.all([stores.conversations.get(caller.scope, conversationId), stores.members.get(caller.scope, conversationId, caller.userId)]);
    if (!conversation || conversation.deletedSeq > 0) throw new NotFoundError("conversation");
    const attrs = conversationAttrs(conversation, member);
    if (attrs.role === undefined && !(await tenantGranted(this.core, caller, "message.delete.any"))) throw new NotFoundError("conversation");
    const found = await this.messages.find(caller.scope, conversationId, messageId);
    if (!found) throw new NotFoundError("message");
    await authorizeAction(this.core, caller, "message.delete", { ...attrs, isOwner: found.message.senderId === caller.userId });
    if (found.log.redacted) {
      // Edits committed while a delete ran are redacted by their editor; this catches any left.
      await redactEdits(this.core, caller.scope, conversationId, found.log.seq);
      return create(DeleteMessageResponseSchema, {});
    }
    const id = found.message.id;
    await this.core.writer.append(caller.scope, {
      conversationId,
      actorId: caller.userId,
      clientMessageId: systemKey("message deleted", id),
      payloadHash: payloadHash({ deleted: id }),
      countable: false,
      // The attachments' media ids: chat's media-detach consumer detaches them from the conversation.
      payload: () => ({
        case: "messageDeleted",
        value: create(MessageDeletedSchema, {
          messageId: id,
          mediaIds: found.message.attachments.map((a) => a.mediaId),
          messageSeq: BigInt(found.log.seq),
          senderId: found.message.senderId,
          ...(found.message.createTime ? { messageCreateTime: found.message.createTime } : {}),
        }),
      }),
    });
    await redactMessage(this.core, caller.scope, found.log);
    await redactEdits(this.core, caller.scope, conversationId, found.log.seq);
    return create(DeleteMessageResponseSchema, {});
  }
}
