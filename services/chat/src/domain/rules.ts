import { authorize, type Action, type ResourceAttributes, type Subject } from "@caas/shared/identity/policy";
import type { ConversationKind, JoinPolicyKind } from "../ports/conversation-store.js";
import type { RoleKind } from "../ports/member-store.js";

/*
 * Conversation-level permissions (DESIGN "Authorization": conversation roles owner/admin/member),
 * answered by the shared ABAC engine (services/shared/src/authz, ADR 0020) for a subject with no
 * tenant role: what the conversation role alone allows. The RPCs call the engine through
 * ChatCore.authorize with the full attributes (tenant roles, moderation states); these are the
 * role-only questions.
 */

const ANYONE: Subject = { tenantId: "", userId: "", tenantRoles: [] };

function allowed(action: Action, r: ResourceAttributes): boolean {
  return authorize(ANYONE, action, r).allow;
}

/** Owners and admins manage members; in OPEN conversations any member may add users. */
export function mayAddMembers(actor: RoleKind, policy: JoinPolicyKind): boolean {
  return allowed("member.add", { conversationKind: "group", joinPolicy: policy, role: actor, newRole: "member" });
}

/** Only owners add users as admins. */
export function mayAddWithRole(actor: RoleKind, role: RoleKind): boolean {
  return allowed("member.add", { conversationKind: "group", joinPolicy: "open", role: actor, newRole: role });
}

/** Owners remove anyone; admins remove members only. */
export function mayRemove(actor: RoleKind, target: RoleKind): boolean {
  return allowed("member.remove", { conversationKind: "group", role: actor, targetRole: target });
}

/** Owners grant and revoke any role; admins only make members admins. */
export function mayChangeRole(actor: RoleKind, target: RoleKind, role: RoleKind): boolean {
  return allowed("member.role.change", { conversationKind: "group", role: actor, targetRole: target, newRole: role });
}

/** Everyone sends in DIRECT and GROUP conversations; only owners and admins in a CHANNEL. */
export function maySend(kind: ConversationKind, actor: RoleKind): boolean {
  return allowed("message.send", { conversationKind: kind, role: actor });
}

/** The suffix of an end-to-end encrypted DIRECT conversation's pair key ("|" never occurs in a user id). */
const E2EE_DIRECT = "|e2ee";

/**
 * The key that makes a DIRECT conversation unique per pair of users (order-free) and kind: a pair
 * has at most one plaintext and one end-to-end encrypted DIRECT conversation.
 */
export function directKey(a: string, b: string, e2ee = false): string {
  return (a < b ? `${a}|${b}` : `${b}|${a}`) + (e2ee ? E2EE_DIRECT : "");
}

/** The two users of a DIRECT conversation's pair key. */
export function directPair(key: string): [string, string] {
  const [a = "", b = ""] = key.split("|");
  return [a, b];
}

/** The other user of a DIRECT conversation's pair key, or undefined when `self` is not in it. */
export function directPeer(key: string | undefined, self: string): string | undefined {
  if (!key) return undefined;
  const [a, b] = directPair(key);
  return a === self ? b : b === self ? a : undefined;
}

/** Owners and admins change a conversation's fields and archive it. */
export function mayManageConversation(actor: RoleKind): boolean {
  return allowed("conversation.update", { conversationKind: "group", role: actor });
}

/** A message is deleted for everyone by its sender, or by an owner or admin (as moderator). */
export function mayDeleteMessage(actor: RoleKind, isSender: boolean): boolean {
  return allowed("message.delete", { conversationKind: "group", role: actor, isOwner: isSender });
}

/** Owners and admins pin and unpin; in DIRECT conversations either member does. */
export function mayPin(kind: ConversationKind, actor: RoleKind): boolean {
  return allowed("message.pin", { conversationKind: kind, role: actor });
}
