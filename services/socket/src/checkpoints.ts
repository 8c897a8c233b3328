import { changesSince, type ChatClient } from "./chat-calls.js";
import type { Hub } from "./hub.js";
import type { SessionIdentity } from "./session-auth.js";

/**
 * Where a connection's knowledge of the log starts: the hub epoch when it opened or began its
 * last resume's catch-up, and the newest seq per conversation that catch-up carried.
 */
export interface ConnectionAnchor {
  epoch: number;
  caughtUp: ReadonlyMap<string, bigint>;
}

/**
 * Whether a cursor may cover `conversationId` up to `head` for a connection anchored at `anchor`:
 * the live path has dispatched the head, and any stretch it skipped is older than the anchor (the
 * connection's catch-up read the log after it) or was carried by the catch-up itself. A
 * conversation with no local members is not this connection's (a left conversation ends with the
 * delivered leave); one the user belongs to but the hub knows nothing of is never covered.
 */
export function mayCover(hub: Hub, who: SessionIdentity, anchor: ConnectionAnchor, conversationId: string, head: bigint): boolean {
  const live = hub.coverage(who.tenantId, conversationId);
  if (live === undefined) return !hub.isMember(who.tenantId, who.userId, conversationId);
  if (live.head < head) return false;
  const hole = live.hole;
  return hole === undefined || hole.epoch <= anchor.epoch || (anchor.caughtUp.get(conversationId) ?? 0n) >= hole.to;
}

/**
 * A fresh changes cursor for a connection, or undefined when it would cover events the
 * connection has not been handed. GetChanges from `cursor` with one event per changed
 * conversation reports each one's head; the cursor is returned only when every reported head may
 * be covered (`mayCover`; conversations outside `filter` are ignored), so a client storing it has
 * received everything it covers and a later resume from it loses nothing. Rejects when chat does.
 */
export async function freshCheckpoint(chat: ChatClient, hub: Hub, who: SessionIdentity, cursor: string, anchor: ConnectionAnchor, filter?: ReadonlySet<string>): Promise<string | undefined> {
  const heads = new Map<string, bigint>();
  const next = await changesSince(chat, who.accessToken, cursor, 1, (page) => {
    for (const c of page.conversations) {
      const last = c.events.at(-1);
      if (last && (!filter || filter.has(c.conversationId))) heads.set(c.conversationId, last.seq);
    }
  });
  for (const [conversationId, head] of heads) if (!mayCover(hub, who, anchor, conversationId, head)) return undefined;
  return next;
}
