import type { ConversationKind, JoinPolicyKind } from "../ports/conversation-store.js";
import type { RoleKind } from "../ports/member-store.js";

/*
 * Conversation-level permissions (DESIGN "Authorization": conversation roles owner/admin/member).
 * Pure functions of the roles and kinds read from the store of record.
 */

/** Owners and admins manage members; in OPEN conversations any member may add users. */
export function mayAddMembers(actor: RoleKind, policy: JoinPolicyKind): boolean {
  return actor === "owner" || actor === "admin" || policy === "open";
}

/** Only owners add users as admins. */
export function mayAddWithRole(actor: RoleKind, role: RoleKind): boolean {
  return role === "member" || actor === "owner";
}

/** Owners remove anyone; admins remove members only. */
export function mayRemove(actor: RoleKind, target: RoleKind): boolean {
  return actor === "owner" || (actor === "admin" && target === "member");
}

/** Owners grant and revoke any role; admins only make members admins. */
export function mayChangeRole(actor: RoleKind, target: RoleKind, role: RoleKind): boolean {
  return actor === "owner" || (actor === "admin" && target === "member" && role === "admin");
}

/** Everyone sends in DIRECT and GROUP conversations; only owners and admins in a CHANNEL. */
export function maySend(kind: ConversationKind, actor: RoleKind): boolean {
  return kind !== "channel" || actor === "owner" || actor === "admin";
}

/** The key that makes a DIRECT conversation unique per pair of users (order-free). */
export function directKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** Owners and admins change a conversation's fields and archive it. */
export function mayManageConversation(actor: RoleKind): boolean {
  return actor === "owner" || actor === "admin";
}

/** A message is deleted for everyone by its sender, or by an owner or admin (as moderator). */
export function mayDeleteMessage(actor: RoleKind, isSender: boolean): boolean {
  return isSender || actor === "owner" || actor === "admin";
}

/** Owners and admins pin and unpin; in DIRECT conversations either member does. */
export function mayPin(kind: ConversationKind, actor: RoleKind): boolean {
  return kind === "direct" || actor === "owner" || actor === "admin";
}
