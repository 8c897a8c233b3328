import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import {
  ArchiveConversationResponseSchema,
  DeleteConversationResponseSchema,
  UnarchiveConversationResponseSchema,
  UpdateConversationResponseSchema,
  type ArchiveConversationResponse,
  type DeleteConversationResponse,
  type UnarchiveConversationResponse,
  type UpdateConversationRequest,
  type UpdateConversationResponse,
} from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationSchema, type Conversation } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { ConversationArchivedSchema, ConversationDeletedSchema, ConversationUnarchivedSchema, ConversationUpdatedSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { FailedPreconditionError } from "@caas/shared/errors";
import type { Caller, ChatCore, MemberAccess } from "../core.js";
import { payloadHash, systemKey } from "../domain/events.js";
import { checkCustom, checkUuid, invalid } from "../domain/input.js";
import { authorizeAction, conversationAttrs } from "./authorize.js";
import { policyOf } from "../domain/views.js";
import type { SettingsChange } from "../ports/conversation-store.js";
import type { ConversationOps } from "./conversation-ops.js";

/** The fields UpdateConversation may change (the update_mask paths). */
const UPDATABLE = new Set(["title", "avatar_url", "custom", "join_policy"]);

/** Most characters of a title (caas.chat.v1.Conversation.title). */
const TITLE_MAX = 128;
/** Most characters of an avatar URL. */
const AVATAR_MAX = 2048;

/**
 * UpdateConversation, ArchiveConversation, UnarchiveConversation, DeleteConversation. Each change
 * is an event of the conversation's log first; the conversation row follows it (applySettings,
 * ordered by the event's seq). Permissions are read from the member row of record.
 */
export class SettingsOps {
  constructor(
    private readonly core: ChatCore,
    private readonly conversations: ConversationOps,
  ) {}

  async update(caller: Caller, req: UpdateConversationRequest): Promise<UpdateConversationResponse> {
    const input = req.conversation;
    if (!input) throw invalid("conversation", "is required");
    const conversationId = checkUuid("conversation.id", input.id);
    const paths = [...new Set(req.updateMask?.paths ?? [])];
    if (paths.length === 0) throw invalid("update_mask", "name at least one field");
    const unknown = paths.find((p) => !UPDATABLE.has(p));
    if (unknown !== undefined) throw invalid("update_mask", `${unknown} cannot be updated (title, avatar_url, custom, join_policy)`);
    const change: Omit<SettingsChange, "seq" | "timeMs"> = {};
    const shown = create(ConversationSchema, { id: conversationId });
    if (paths.includes("title")) {
      if ([...input.title].length > TITLE_MAX) throw invalid("conversation.title", `at most ${TITLE_MAX} characters`);
      change.title = shown.title = input.title;
    }
    if (paths.includes("avatar_url")) {
      if (input.avatarUrl !== "" && !isUrl(input.avatarUrl)) throw invalid("conversation.avatar_url", `must be an absolute URL of at most ${AVATAR_MAX} characters`);
      change.avatarUrl = shown.avatarUrl = input.avatarUrl;
    }
    if (paths.includes("custom")) {
      checkCustom("conversation.custom", input.custom, this.core.limits.maxCustomBytes);
      change.custom = input.custom ?? null;
      if (input.custom !== undefined) shown.custom = input.custom;
    }
    if (paths.includes("join_policy")) {
      const policy = policyOf(input.joinPolicy);
      if (policy !== "open" && policy !== "invite_only") throw invalid("conversation.join_policy", "must be OPEN or INVITE_ONLY");
      change.joinPolicy = policy;
      shown.joinPolicy = input.joinPolicy;
    }
    const access = await this.manager(caller, conversationId);
    if (access.conversation.kind === "direct") throw new FailedPreconditionError("DIRECT conversations have no title, avatar or join policy to change");
    if (access.conversation.archived) throw new FailedPreconditionError("the conversation is archived");
    await this.commit(caller, conversationId, change, "conversation updated", () => ({
      case: "conversationUpdated",
      value: create(ConversationUpdatedSchema, { conversation: shown, updateMask: create(FieldMaskSchema, { paths }) }),
    }));
    return create(UpdateConversationResponseSchema, { conversation: await this.current(caller, conversationId) });
  }

  /** Archives (idempotent: an archived conversation is returned as is, with no new event). */
  async archive(caller: Caller, conversationId: string): Promise<ArchiveConversationResponse> {
    const id = checkUuid("conversation_id", conversationId);
    const access = await this.manager(caller, id);
    if (!access.conversation.archived) {
      await this.commit(caller, id, { archived: true }, "conversation archived", () => ({ case: "conversationArchived", value: create(ConversationArchivedSchema) }));
    }
    return create(ArchiveConversationResponseSchema, { conversation: await this.current(caller, id) });
  }

  /** Unarchives (idempotent like archive). */
  async unarchive(caller: Caller, conversationId: string): Promise<UnarchiveConversationResponse> {
    const id = checkUuid("conversation_id", conversationId);
    const access = await this.manager(caller, id);
    if (access.conversation.archived) {
      await this.commit(caller, id, { archived: false }, "conversation unarchived", () => ({ case: "conversationUnarchived", value: create(ConversationUnarchivedSchema) }));
    }
    return create(UnarchiveConversationResponseSchema, { conversation: await this.current(caller, id) });
  }

  /**
   * Deletes for everyone (owners only). ConversationDeleted is appended once (a system key per
   * conversation, so a retry after a crash completes the deletion instead of appending again);
   * from then on the conversation is NOT_FOUND for everyone, except Sync of its former members
   * up to the deletion.
   */
  async delete(caller: Caller, conversationId: string): Promise<DeleteConversationResponse> {
    const id = checkUuid("conversation_id", conversationId);
    const access = await this.core.requireMember(caller, id);
    await authorizeAction(this.core, caller, "conversation.delete", conversationAttrs(access.conversation, access.member));
    const committed = await this.core.writer.append(caller.scope, {
      conversationId: id,
      actorId: caller.userId,
      clientMessageId: systemKey("conversation deleted", id),
      payloadHash: "conversation deleted",
      countable: false,
      payload: () => ({ case: "conversationDeleted", value: create(ConversationDeletedSchema) }),
    });
    await this.core.stores.conversations.applySettings(caller.scope, id, { seq: committed.log.seq, timeMs: committed.log.createTimeMs, deleted: true });
    return create(DeleteConversationResponseSchema, {});
  }

  /** The caller's membership as an owner or admin; PERMISSION_DENIED for plain members. */
  private async manager(caller: Caller, conversationId: string): Promise<MemberAccess> {
    const access = await this.core.requireMember(caller, conversationId);
    await authorizeAction(this.core, caller, "conversation.update", conversationAttrs(access.conversation, access.member));
    return access;
  }

  /** Appends a settings event, then applies it to the conversation row at its seq. */
  private async commit(
    caller: Caller,
    conversationId: string,
    change: Omit<SettingsChange, "seq" | "timeMs">,
    what: string,
    payload: Parameters<ChatCore["writer"]["append"]>[1]["payload"],
  ): Promise<void> {
    const committed = await this.core.writer.append(caller.scope, {
      conversationId,
      actorId: caller.userId,
      payloadHash: payloadHash({ what, change }),
      countable: false,
      payload,
    });
    await this.core.stores.conversations.applySettings(caller.scope, conversationId, { ...change, seq: committed.log.seq, timeMs: committed.log.createTimeMs });
  }

  private async current(caller: Caller, conversationId: string): Promise<Conversation> {
    return (await this.conversations.view(caller, conversationId)).conversation!;
  }
}

function isUrl(value: string): boolean {
  if (value.length > AVATAR_MAX) return false;
  try {
    return new URL(value).protocol.length > 1;
  } catch {
    return false;
  }
}
