import { FailedPreconditionError, NotFoundError } from "@caas/shared/errors";
import type { Action } from "@caas/shared/identity/policy";
import type { Caller, ChatCore, MemberAccess } from "../core.js";
import { checkUuid } from "../domain/input.js";
import { authorizeAction, writeAttrs } from "./authorize.js";
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
  opts: { allowDeleted: boolean; action?: Action },
): Promise<MessageTarget> {
  const conversationId = checkUuid("conversation_id", ids.conversationId);
  const messageId = checkUuid("message_id", ids.messageId);
  const access = await core.requireMember(caller, conversationId);
  const found = await messages.find(caller.scope, conversationId, messageId);
  if (!found) throw new NotFoundError("message");
  // The ABAC engine on the store of record. Without an action only the conversation's state
  // counts (archived; frozen for non-moderators): removals that tidy up stay open to muted members.
  const attrs = await writeAttrs(core, caller, access.conversation, access.member, { mute: opts.action !== undefined });
  await authorizeAction(core, caller, opts.action ?? "message.react", { ...attrs, isOwner: found.message.senderId === caller.userId, blocked: false });
  if (found.message.deleted && !opts.allowDeleted) throw new FailedPreconditionError("the message was deleted");
  return { ...access, conversationId, found };
}
