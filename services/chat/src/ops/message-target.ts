import { FailedPreconditionError, NotFoundError } from "@caas/shared";
import type { Caller, ChatCore, MemberAccess } from "../core.js";
import { checkUuid } from "../domain/input.js";
import type { MessageOps } from "./message-ops.js";
import type { LoggedMessage } from "./message-views.js";

/** A message a member acts on, with the member's access. */
export interface MessageTarget extends MemberAccess {
  conversationId: string;
  found: LoggedMessage;
}

/**
 * The message an edit, reaction or pin acts on, read from the store of record: NOT_FOUND unless
 * the caller is an active member and the message exists in this conversation;
 * FAILED_PRECONDITION when the conversation is archived, frozen (for plain members), or the
 * message is deleted (unless `allowDeleted`, for the removals that only tidy up).
 */
export async function writableMessage(
  core: ChatCore,
  messages: MessageOps,
  caller: Caller,
  ids: { conversationId: string; messageId: string },
  opts: { allowDeleted: boolean },
): Promise<MessageTarget> {
  const conversationId = checkUuid("conversation_id", ids.conversationId);
  const messageId = checkUuid("message_id", ids.messageId);
  const access = await core.requireMember(caller, conversationId);
  if (access.conversation.archived) throw new FailedPreconditionError("the conversation is archived");
  if (access.conversation.frozen && access.member.role === "member") throw new FailedPreconditionError("the conversation is frozen");
  const found = await messages.find(caller.scope, conversationId, messageId);
  if (!found) throw new NotFoundError("message");
  if (found.message.deleted && !opts.allowDeleted) throw new FailedPreconditionError("the message was deleted");
  return { ...access, conversationId, found };
}
