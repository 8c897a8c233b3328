import { create } from "@bufbuild/protobuf";
import { GetChangesResponseSchema, type GetChangesRequest, type GetChangesResponse } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationChangesSchema, type ConversationChanges } from "@caas/gen/caas/chat/v1/changes_pb.js";
import { FailedPreconditionError, InvalidArgumentError } from "@caas/shared/errors";
import { projectedHead, type Caller, type ChatCore } from "../core.js";
import { decodeEvent } from "../domain/events.js";
import { invalid } from "../domain/input.js";
import { conversationView, readStateView } from "../domain/views.js";
import type { ConversationRecord } from "../ports/conversation-store.js";
import type { MemberRecord } from "../ports/member-store.js";
import { sharesReceipts } from "../domain/receipt-rules.js";
import { mentionCount } from "./mention-ops.js";
import { receiptView } from "./receipt-ops.js";

/**
 * What a changes cursor holds (signed and bound to the tenant and user by the page token codec).
 * A pass walks the caller's conversations changed after `s` in (changeMs, id) order; `t` is when
 * the pass began and `a` where it stands. When a pass ends, the next cursor is `{ s: t }`.
 */
interface CursorKey {
  /** The start of the previous complete pass (epoch ms); absent on the first pass. */
  s?: number;
  /** The start of this pass. */
  t?: number;
  /** The (changeMs, id) of the last conversation returned in this pass. */
  a?: [number, string];
}

/**
 * GetChanges: the per-user catch-up across all of the caller's conversations.
 *
 * Selection is by commit time with an overlap: a pass after a cursor made at time `s` looks at
 * conversations whose newest event committed after `s - changesOverlapMs` and returns their
 * events committed after that instant (the newest per_conversation_limit of them, `limited`
 * when there are more). The overlap absorbs clock skew between instances and commits still in
 * flight when the cursor was made, so a response may repeat events (clients dedupe by
 * conversation and seq) but does not leave one out; should a commit ever fall outside it, the
 * client still sees the seq gap in the next event and fills it through Sync. Times only select
 * here: nothing is ordered by them.
 */
export class ChangesOps {
  constructor(private readonly core: ChatCore) {}

  async changes(caller: Caller, req: GetChangesRequest): Promise<GetChangesResponse> {
    if (req.limit < 0 || req.limit > 100) throw invalid("limit", "must be between 0 and 100");
    if (req.perConversationLimit < 0 || req.perConversationLimit > 200) throw invalid("per_conversation_limit", "must be between 0 and 200");
    const limit = req.limit === 0 ? 50 : req.limit;
    const perConversation = req.perConversationLimit === 0 ? 50 : req.perConversationLimit;
    const { stores, clock, limits, pageTokens } = this.core;
    const binding = { tenantId: caller.scope.tenantId, query: `changes|${caller.userId}` };
    let decoded: CursorKey | undefined;
    try {
      decoded = pageTokens.decode<CursorKey>(binding, req.cursor);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw invalid("cursor", "malformed, or issued to another user");
      throw err;
    }
    const key = checkKey(decoded);
    const now = clock.nowMs();
    if (key.s !== undefined && now - key.s > limits.changesCursorMaxAgeMs) {
      throw new FailedPreconditionError("the changes cursor expired: start again with an empty cursor");
    }
    const passStart = key.t ?? now;
    const from = key.s === undefined ? undefined : key.s - limits.changesOverlapMs;

    const memberships = await stores.members.ofUser(caller.scope, caller.userId, from === undefined ? {} : { leftAfterMs: from });
    const byId = new Map(memberships.map((m) => [m.conversationId, m]));
    const page = await stores.conversations.listByChange(caller.scope, {
      ids: [...byId.keys()],
      ...(from === undefined ? {} : { changedAfterMs: from }),
      ...(key.a ? { after: { changeMs: key.a[0], id: key.a[1] } } : {}),
      limit: limit + 1,
    });
    const shown = page.slice(0, limit);
    const counts = await stores.members.countMany(
      caller.scope,
      shown.map((c) => c.id),
    );
    const positions = positionsOf(req);
    const conversations = await Promise.all(shown.map((c) => this.changesOf(caller, c, byId.get(c.id)!, counts.get(c.id) ?? 0, from, perConversation, positions.get(c.id))));
    const last = shown[shown.length - 1];
    const hasMore = page.length > limit && last !== undefined;
    const next: CursorKey = hasMore ? { ...(key.s === undefined ? {} : { s: key.s }), t: passStart, a: [last.changeMs, last.id] } : { s: passStart };
    return create(GetChangesResponseSchema, { conversations, nextCursor: pageTokens.encode(binding, next), hasMore });
  }

  private async changesOf(
    caller: Caller,
    c: ConversationRecord,
    m: MemberRecord,
    count: number,
    from: number | undefined,
    perConversation: number,
    position: number | undefined,
  ): Promise<ConversationChanges> {
    const { events, readStates } = this.core.stores;
    const head = await events.head(caller.scope, c.id, projectedHead(c));
    // After a deletion every member is a former one, up to the deletion (its last event).
    const member = c.deletedSeq > 0 ? { ...m, active: false, leftSeq: m.active ? c.deletedSeq : Math.min(m.leftSeq, c.deletedSeq) } : m;
    const top = member.active ? head.seq : Math.min(member.leftSeq, head.seq);
    // The client's position trims what it already holds; one past what the caller may read is ignored.
    const held = position !== undefined && position <= top ? position : 0;
    // The newest perConversation + 1 events (one more tells `limited`), and of those only what the
    // client does not hold: a reconnecting client usually holds the head, and then nothing is
    // read (or opened) at all. Events at or below `held` would be left out below anyway.
    const low = Math.max(0, top - perConversation - 1, held);
    const window = top > low ? await events.read(caller.scope, c.id, low, top - low) : [];
    let start = window.findIndex((e) => e.seq > held && (from === undefined || e.createTimeMs > from));
    if (start < 0) start = window.length;
    const fresh = window.slice(start);
    const base = { conversationId: c.id, events: fresh.slice(-perConversation).map(decodeEvent), limited: fresh.length > perConversation };
    if (!member.active) return create(ConversationChangesSchema, base);
    const rs = await readStates.get(caller.scope, c.id, caller.userId);
    // Others' positions that moved since the cursor (all of them on a first pass), where receipts are shared.
    const receipts = sharesReceipts(c.kind, count)
      ? (await readStates.ofConversation(caller.scope, c.id, { ...(from === undefined ? {} : { changedAfterMs: Math.max(0, from) }), limit: 1000 })).filter((r) => r.userId !== caller.userId)
      : [];
    return create(ConversationChangesSchema, {
      ...base,
      conversation: conversationView(c, count, head),
      readState: readStateView(c.id, caller.userId, rs, Math.max(head.countableSeq, c.countableSeq), await mentionCount(this.core, caller.scope, caller.userId, c.id, rs)),
      receipts: receipts.map(receiptView),
    });
  }
}

/**
 * The client's positions by conversation (GetChangesRequest.positions; at most 500 by the
 * request's rules): the lowest seq when a conversation is listed twice, so a repeat never trims
 * more than the client holds.
 */
function positionsOf(req: GetChangesRequest): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of req.positions) {
    const seq = Number(p.seq);
    const had = out.get(p.conversationId);
    if (had === undefined || seq < had) out.set(p.conversationId, seq);
  }
  return out;
}

/** A decoded cursor key with the expected shape (its MAC was valid, so this only guards versions). */
function checkKey(key: CursorKey | undefined): CursorKey {
  if (key === undefined) return {};
  const int = (v: unknown) => v === undefined || Number.isSafeInteger(v);
  const ok =
    typeof key === "object" &&
    key !== null &&
    int(key.s) &&
    int(key.t) &&
    (key.a === undefined || (Array.isArray(key.a) && key.a.length === 2 && Number.isSafeInteger(key.a[0]) && typeof key.a[1] === "string"));
  if (!ok) throw invalid("cursor", "malformed cursor");
  return key;
}
