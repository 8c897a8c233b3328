import type { ConversationKind } from "../ports/conversation-store.js";

/** Receipts (read and delivery positions of others) are shared in GROUP conversations up to this many members. */
export const RECEIPT_GROUP_MAX_MEMBERS = 100;

/**
 * Whether members see each other's read and delivery positions: in DIRECT conversations and in
 * GROUP conversations of at most 100 members, never in a CHANNEL (contract: ListReadBy,
 * ConversationChanges.receipts).
 */
export function sharesReceipts(kind: ConversationKind, memberCount: number): boolean {
  return kind === "direct" || (kind === "group" && memberCount <= RECEIPT_GROUP_MAX_MEMBERS);
}
