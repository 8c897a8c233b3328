import { authorize, type Action, type ResourceAttributes, type Subject } from "@caas/shared/identity/policy";
import { enforce } from "@caas/shared/identity/enforce";
import type { Caller, ChatCore } from "../core.js";
import { directPeer } from "../domain/rules.js";
import type { ConversationRecord } from "../ports/conversation-store.js";
import type { MemberRecord } from "../ports/member-store.js";
import { inForce, type RestrictionKind, type RestrictionRecord } from "../ports/moderation-store.js";

/*
 * How chat RPCs ask the shared ABAC engine (ADR 0020): attributes come from the store of record
 * (conversation, membership, moderation rows, blocks; never a cache), the policy from the
 * tenant's lookup, and a deny becomes the error of its code.
 */

/** The engine's subject for a caller: tenant, user and tenant roles from the verified token. */
export function subjectOf(caller: Caller): Subject {
  return { tenantId: caller.scope.tenantId, userId: caller.userId, tenantRoles: caller.roles ?? [] };
}

/** The attributes of a conversation as the caller sees it: kind, state, and the caller's role if an active member. */
export function conversationAttrs(conversation: ConversationRecord, member: MemberRecord | undefined): ResourceAttributes {
  return {
    conversationKind: conversation.kind,
    joinPolicy: conversation.joinPolicy,
    ...(member?.active ? { role: member.role } : {}),
    archived: conversation.archived,
    frozen: conversation.frozen,
  };
}

/** Decides `action` under the tenant's policy; throws NOT_FOUND / PERMISSION_DENIED / FAILED_PRECONDITION on a deny. */
export async function authorizeAction(core: ChatCore, caller: Caller, action: Action, attrs: ResourceAttributes): Promise<void> {
  const policy = await core.policyFor(caller.scope.tenantId);
  enforce(authorize(subjectOf(caller), action, attrs, policy));
}

/** Whether the caller's tenant roles grant `action` in every conversation (moderators). */
export async function tenantGranted(core: ChatCore, caller: Caller, action: Action): Promise<boolean> {
  const policy = await core.policyFor(caller.scope.tenantId);
  return authorize(subjectOf(caller), action, { conversationKind: "group" }, policy).allow;
}

/** The user's mute or ban in the conversation if it is in force now (read from the store of record). */
export async function restrictionOf(core: ChatCore, caller: Caller, conversationId: string, userId: string, kind: RestrictionKind): Promise<RestrictionRecord | undefined> {
  const r = await core.stores.moderation.get(caller.scope, conversationId, userId, kind);
  return inForce(r, core.clock.nowMs()) ? r : undefined;
}

/**
 * The attributes of a write by an active member: the conversation's, plus whether the caller is
 * muted and, in a DIRECT conversation, whether either user blocked the other.
 */
export async function writeAttrs(
  core: ChatCore,
  caller: Caller,
  conversation: ConversationRecord,
  member: MemberRecord,
  /** `mute`: false skips the mute check; the caller's mute already read (restrictionOf) spares the read. */
  opts: { mute?: boolean | { record: RestrictionRecord | undefined } } = {},
): Promise<ResourceAttributes> {
  const peer = conversation.kind === "direct" ? directPeer(conversation.directKey, caller.userId) : undefined;
  const [muted, blocked] = await Promise.all([
    opts.mute === false ? undefined : typeof opts.mute === "object" ? opts.mute.record : restrictionOf(core, caller, conversation.id, caller.userId, "mute"),
    peer === undefined ? false : core.stores.blocks.between(caller.scope, caller.userId, peer),
  ]);
  return { ...conversationAttrs(conversation, member), callerMuted: muted !== undefined, blocked };
}
