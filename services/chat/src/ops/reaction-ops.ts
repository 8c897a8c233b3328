import { create } from "@bufbuild/protobuf";
import {
  AddReactionResponseSchema,
  RemoveReactionResponseSchema,
  type AddReactionRequest,
  type AddReactionResponse,
  type RemoveReactionRequest,
  type RemoveReactionResponse,
} from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ReactionAddedSchema, ReactionRemovedSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { FailedPreconditionError } from "@caas/shared/errors";
import type { Caller, ChatCore } from "../core.js";
import { payloadHash, systemKey } from "../domain/events.js";
import { checkEncryptedReaction } from "../domain/encrypted.js";
import { invalid } from "../domain/input.js";
import { markOf } from "../domain/marks.js";
import type { Committed } from "../log-writer.js";
import type { MessageOps } from "./message-ops.js";
import { writableMessage } from "./message-target.js";

/** Distinct reactions one user may have on one message (the contract's limit). */
export const MAX_REACTIONS_PER_USER = 20;

/**
 * AddReaction and RemoveReaction: one reaction per (message, user, reaction). A change appends
 * ReactionAdded / ReactionRemoved and then applies it to the marks projection (the counts);
 * a call that changes nothing appends nothing. The idempotency key names the state being left
 * (its seq), so concurrent or retried identical calls commit one event.
 */
export class ReactionOps {
  constructor(
    private readonly core: ChatCore,
    private readonly messages: MessageOps,
  ) {}

  async add(caller: Caller, req: AddReactionRequest): Promise<AddReactionResponse> {
    const reaction = checkReaction(req.reaction);
    const t = await writableMessage(this.core, this.messages, caller, req, { allowDeleted: false, action: "message.react" });
    if (t.conversation.e2ee === true) checkEncryptedReaction(reaction);
    const { marks } = this.core.stores;
    const messageSeq = t.found.log.seq;
    const current = await marks.get(caller.scope, t.conversationId, messageSeq, "reaction", reaction, caller.userId);
    if (current?.present) return create(AddReactionResponseSchema, {});
    if ((await marks.count(caller.scope, t.conversationId, { kind: "reaction", messageSeq, userId: caller.userId })) >= MAX_REACTIONS_PER_USER) {
      throw new FailedPreconditionError(`at most ${MAX_REACTIONS_PER_USER} distinct reactions per user on one message`);
    }
    const messageId = t.found.message.id;
    await this.apply(
      caller,
      await this.core.writer.append(caller.scope, {
        conversationId: t.conversationId,
        actorId: caller.userId,
        clientMessageId: systemKey("reaction added", messageId, reaction, current?.seq ?? 0),
        payloadHash: payloadHash({ add: messageId, reaction }),
        countable: false,
        payload: () => ({ case: "reactionAdded", value: create(ReactionAddedSchema, { messageId, reaction }) }),
      }),
    );
    return create(AddReactionResponseSchema, {});
  }

  async remove(caller: Caller, req: RemoveReactionRequest): Promise<RemoveReactionResponse> {
    const reaction = checkReaction(req.reaction);
    const t = await writableMessage(this.core, this.messages, caller, req, { allowDeleted: true });
    const current = await this.core.stores.marks.get(caller.scope, t.conversationId, t.found.log.seq, "reaction", reaction, caller.userId);
    if (!current?.present) return create(RemoveReactionResponseSchema, {});
    const messageId = t.found.message.id;
    await this.apply(
      caller,
      await this.core.writer.append(caller.scope, {
        conversationId: t.conversationId,
        actorId: caller.userId,
        clientMessageId: systemKey("reaction removed", messageId, reaction, current.seq),
        payloadHash: payloadHash({ remove: messageId, reaction }),
        countable: false,
        payload: () => ({ case: "reactionRemoved", value: create(ReactionRemovedSchema, { messageId, reaction }) }),
      }),
    );
    return create(RemoveReactionResponseSchema, {});
  }

  private async apply(caller: Caller, committed: Committed): Promise<void> {
    const mark = markOf(committed.log, committed.event);
    if (mark) await this.core.stores.marks.apply(caller.scope, mark);
  }
}

/** A reaction: an emoji or a short code, 1-32 characters, no control characters. */
function checkReaction(reaction: string): string {
  const chars = Array.from(reaction).length;
  if (chars < 1 || chars > 32 || /\p{Cc}/u.test(reaction)) throw invalid("reaction", "1-32 characters, no control characters");
  return reaction;
}
