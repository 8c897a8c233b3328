import { changesSince, type ChatClient } from "./chat-calls.js";
import type { Hub } from "./hub.js";
import type { SessionIdentity } from "./session-auth.js";

/**
 * A fresh changes cursor for a connection, or undefined when it would cover events the
 * connection has not been handed yet. GetChanges from `cursor` with one event per changed
 * conversation reports each one's head; the cursor is returned only when the hub has already
 * handed this instance's members every such head (conversations outside `filter` are ignored),
 * so a client storing it has received everything it covers. Rejects when chat does.
 */
export async function freshCheckpoint(
  chat: ChatClient,
  hub: Hub,
  who: SessionIdentity,
  cursor: string,
  filter?: ReadonlySet<string>,
): Promise<string | undefined> {
  const heads = new Map<string, bigint>();
  const next = await changesSince(chat, who.accessToken, cursor, 1, (page) => {
    for (const c of page.conversations) {
      const last = c.events.at(-1);
      if (last && (!filter || filter.has(c.conversationId))) heads.set(c.conversationId, last.seq);
    }
  });
  for (const [conversationId, head] of heads) {
    const handed = hub.headSeq(who.tenantId, conversationId);
    if (handed !== undefined && handed < head) return undefined;
  }
  return next;
}
