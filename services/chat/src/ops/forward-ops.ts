import { create } from "@bufbuild/protobuf";
import { ForwardMessageResponseSchema, SendMessageRequestSchema, type ForwardMessageRequest, type ForwardMessageResponse } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ForwardedFromSchema } from "@caas/gen/caas/chat/v1/message_pb.js";
import { FailedPreconditionError, NotFoundError } from "@caas/shared/errors";
import type { Caller, ChatCore } from "../core.js";
import { checkUuid, invalid } from "../domain/input.js";
import type { MessageOps } from "./message-ops.js";
import { MessageViews } from "./message-views.js";

const CLIENT_MESSAGE_ID = /^[!-~]{1,64}$/;

/**
 * ForwardMessage: copies a message the caller can read (a member, or anyone for an OPEN
 * conversation, exactly as GetMessage) into a conversation where the caller may send, as a new
 * message of the caller with `forwarded_from` naming the source message and its sender.
 *
 * The copy takes the source's current body (its latest edit): text, custom data and attachments.
 * Mentions are not copied (they named members of the source conversation), nor are reply and
 * thread references (they point into the source conversation). The copy goes through
 * SendMessage's path for the target: its permissions, rate limit, idempotency per
 * client_message_id (a retry for the same source returns the original ack, another payload under
 * that id is ALREADY_EXISTS) and its seq'd MessageCreated event.
 *
 * Attachments keep their media ids and names; before the commit the media service attaches them
 * to the target conversation on the authority of the source conversation (where the forwarding
 * user just proved read access), so the target's members may read them. Media its owner deleted
 * since makes the message unforwardable (FAILED_PRECONDITION).
 */
export class ForwardOps {
  private readonly views: MessageViews;

  constructor(
    private readonly core: ChatCore,
    private readonly messages: MessageOps,
  ) {
    this.views = new MessageViews(core);
  }

  /** `signal`: the caller's cancellation; a forward whose caller left before the commit is abandoned. */
  async forward(caller: Caller, req: ForwardMessageRequest, signal?: AbortSignal): Promise<ForwardMessageResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const messageId = checkUuid("message_id", req.messageId);
    const targetId = checkUuid("target_conversation_id", req.targetConversationId);
    if (!CLIENT_MESSAGE_ID.test(req.clientMessageId)) throw invalid("client_message_id", "1-64 printable ASCII characters");

    const source = await this.core.requireReader(caller, conversationId);
    // The server cannot read a ciphertext to copy it, nor put a copy of plaintext into an encrypted conversation: clients re-encrypt and send.
    if (source.conversation.e2ee === true) throw new FailedPreconditionError("messages of an end-to-end encrypted conversation cannot be forwarded; the client sends a new ciphertext message");
    const target = await this.core.stores.conversations.get(caller.scope, targetId);
    if (target?.e2ee === true) throw new FailedPreconditionError("messages cannot be forwarded into an end-to-end encrypted conversation; the client sends a new ciphertext message");
    const found = await this.messages.find(caller.scope, conversationId, messageId);
    if (!found) throw new NotFoundError("message");
    if (found.message.deleted) throw new FailedPreconditionError("the message was deleted and cannot be forwarded");
    const [copy] = await this.views.materialize(caller.scope, caller.userId, conversationId, [found]);

    const ack = await this.messages.send(
      caller,
      create(SendMessageRequestSchema, {
        conversationId: targetId,
        clientMessageId: req.clientMessageId,
        text: copy!.text,
        attachments: copy!.attachments,
        ...(copy!.custom === undefined ? {} : { custom: copy!.custom }),
      }),
      { forwardedFrom: create(ForwardedFromSchema, { conversationId, messageId: found.message.id, senderId: found.message.senderId }), ...(signal ? { signal } : {}) },
    );
    return create(ForwardMessageResponseSchema, { messageId: ack.messageId, seq: ack.seq, createTime: ack.createTime, duplicate: ack.duplicate });
  }
}
