import type { Message } from "@caas/gen/caas/chat/v1/message_pb.js";
import type { TenantScope } from "@caas/shared/tenant-scope";
import type { ChatCore } from "../core.js";
import type { ReadStateRecord } from "../ports/read-state-store.js";

/*
 * Mention records (DESIGN "Unread"): SendMessage keeps only mentioned users who are members
 * (others are dropped, as the contract says) and this records one row per mentioned user other
 * than the sender. A user's mention count is the number of their records after their read
 * position; MarkRead prunes the ones it passes.
 */

/**
 * Records the mentions of a committed message (or of an edit, which may mention more users: a
 * mention an edit removes keeps its record). Idempotent, so a retried send repairs a record a
 * crash left out.
 */
export async function recordMentions(core: ChatCore, scope: TenantScope, message: Pick<Message, "conversationId" | "seq" | "senderId" | "mentionedUserIds">, timeMs: number): Promise<void> {
  const userIds = message.mentionedUserIds.filter((id) => id !== message.senderId);
  if (userIds.length === 0) return;
  await core.stores.mentions.record(scope, { conversationId: message.conversationId, seq: Number(message.seq), userIds, timeMs });
}

/** Mention counts of a user per conversation, after the read positions in `states` (0 when none is stored). */
export async function mentionCounts(core: ChatCore, scope: TenantScope, userId: string, conversationIds: string[], states: Map<string, ReadStateRecord>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < conversationIds.length; i += 10_000) {
    const positions = conversationIds.slice(i, i + 10_000).map((conversationId) => ({ conversationId, afterSeq: states.get(conversationId)?.lastReadSeq ?? 0 }));
    for (const [id, n] of await core.stores.mentions.count(scope, userId, positions)) out.set(id, n);
  }
  return out;
}

/** The mention count of one user in one conversation. */
export async function mentionCount(core: ChatCore, scope: TenantScope, userId: string, conversationId: string, state: ReadStateRecord | undefined): Promise<number> {
  const counts = await core.stores.mentions.count(scope, userId, [{ conversationId, afterSeq: state?.lastReadSeq ?? 0 }]);
  return counts.get(conversationId) ?? 0;
}
