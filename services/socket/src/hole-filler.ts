import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { Logger } from "@caas/shared/logger";
import { asUser, type ChatClient } from "./chat-calls.js";
import type { Hub } from "./hub.js";

/** Events read per Sync call while filling a hole (chat's most). */
const PAGE = 500;

/**
 * Fills the holes of the live path from the store of record, as chat's own consumers do
 * (DESIGN: consumers fill gaps through Sync): when the hub skips seqs of a conversation with local
 * members (SeqOrder gave up waiting, or the bus consumer started or resumed past them), the
 * missing events are read with ChatService.Sync, using the token of one local member (every
 * member may read the whole log), and handed to the local members late, in seq order (clients
 * dedupe by seq). A fill that fails leaves the hole: checkpoints then keep not covering it, and
 * clients still see the gap and Sync themselves.
 */
export class HoleFiller {
  private hub?: Hub;

  constructor(
    private readonly chat: ChatClient,
    private readonly logger: Logger,
  ) {}

  /** Connects the filler to the hub it fills (the hub takes `onHole` at construction). */
  attach(hub: Hub): void {
    this.hub = hub;
  }

  /** The hub's HoleListener. */
  readonly onHole = (tenantId: string, conversationId: string, from: bigint, to: bigint): void => {
    void this.fill(tenantId, conversationId, from, to);
  };

  /** Reads seqs `from`..`to` and hands them to the hub; resolves whether it did. */
  async fill(tenantId: string, conversationId: string, from: bigint, to: bigint): Promise<boolean> {
    const hub = this.hub;
    const token = hub?.localMembers(tenantId, conversationId).find((r) => r.accessToken)?.accessToken;
    if (!hub || !token) return false;
    const events: Event[] = [];
    try {
      for (let after = from - 1n; after < to;) {
        const page = await this.chat.sync({ conversationId, afterSeq: after, limit: PAGE }, asUser(token));
        const wanted = page.events.filter((e) => e.seq > after && e.seq <= to);
        if (wanted.length === 0) break;
        events.push(...wanted);
        after = wanted.at(-1)!.seq;
        if (!page.hasMore) break;
      }
    } catch (err) {
      this.logger.warn({ err, conversationId, from, to }, "a hole of the live path could not be read; clients fill it through Sync");
      return false;
    }
    if (events.length === 0 || events.at(-1)!.seq < to) {
      this.logger.warn({ conversationId, from, to, read: events.length }, "the log did not hold a hole of the live path yet; clients fill it through Sync");
      return false;
    }
    hub.fill(tenantId, conversationId, events);
    return true;
  }
}
