import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  ListReadByResponseSchema,
  MarkDeliveredResponseSchema,
  MarkReadResponseSchema,
  type ListReadByRequest,
  type ListReadByResponse,
  type MarkDeliveredRequest,
  type MarkDeliveredResponse,
  type MarkReadRequest,
  type MarkReadResponse,
} from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ReceiptSchema, type ReadState, type Receipt } from "@caas/gen/caas/chat/v1/read_state_pb.js";
import { currentScope } from "@caas/shared/context";
import { FailedPreconditionError, NotFoundError } from "@caas/shared/errors";
import { projectedHead, type Caller, type ChatCore, type MemberAccess } from "../core.js";
import { checkUuid, invalid, pageSize } from "../domain/input.js";
import { sharesReceipts } from "../domain/receipt-rules.js";
import { readStateView } from "../domain/views.js";
import type { ReadStateRecord } from "../ports/read-state-store.js";
import { markerMovedRecord, type UserStatePublisher } from "../user-state.js";
import { mentionCount } from "./mention-ops.js";
import type { MessageOps } from "./message-ops.js";

/** The public form of another member's positions. What was read was delivered. */
export function receiptView(r: ReadStateRecord): Receipt {
  return create(ReceiptSchema, {
    conversationId: r.conversationId,
    userId: r.userId,
    lastReadSeq: BigInt(r.lastReadSeq),
    lastDeliveredSeq: BigInt(Math.max(r.lastReadSeq, r.lastDeliveredSeq)),
    updateTime: timestampFromMs(r.updateTimeMs),
  });
}

/**
 * MarkRead, MarkDelivered, ListReadBy: the per-user read and delivery markers (DESIGN "Unread":
 * per-user state that only moves forward, not seq'd events).
 *
 * A marker is clamped to the conversation's head; a seq at or behind it changes nothing. When a
 * marker moves, the conversation's change time moves too (so the caller's other devices and,
 * where receipts are shared, the other members find it in GetChanges), and a ReadMarkerMoved or
 * DeliveryMarkerMoved record goes to `caas.chat.userstate.v1` for live push, after the commit.
 * MarkRead also prunes the mention records it passed.
 */
export class ReceiptOps {
  constructor(
    private readonly core: ChatCore,
    private readonly messages: MessageOps,
    private readonly publish: UserStatePublisher | undefined,
  ) {}

  async markRead(caller: Caller, req: MarkReadRequest): Promise<MarkReadResponse> {
    return create(MarkReadResponseSchema, { readState: await this.move(caller, req, "read") });
  }

  async markDelivered(caller: Caller, req: MarkDeliveredRequest): Promise<MarkDeliveredResponse> {
    return create(MarkDeliveredResponseSchema, { readState: await this.move(caller, req, "delivered") });
  }

  /**
   * Members whose read marker is at or past the message's seq, by user id: current members who
   * were members when it was sent (a later member's position starts past it without having read
   * it), the sender excluded. NOT_FOUND as for GetMessage; FAILED_PRECONDITION where receipts are not
   * shared (CHANNEL, GROUP over 100 members).
   */
  async listReadBy(caller: Caller, req: ListReadByRequest): Promise<ListReadByResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const messageId = checkUuid("message_id", req.messageId);
    const limit = pageSize(req.pageSize, 100, 200);
    if (req.pageToken.length > 1024) throw invalid("page_token", "at most 1024 characters");
    const { conversation } = await this.core.requireMember(caller, conversationId);
    const found = await this.messages.find(caller.scope, conversationId, messageId);
    if (!found) throw new NotFoundError("message");
    const { stores, pageTokens } = this.core;
    const memberCount = await stores.members.count(caller.scope, conversationId);
    if (!sharesReceipts(conversation.kind, memberCount)) {
      throw new FailedPreconditionError("read receipts are not shared in this conversation (CHANNEL, or GROUP of more than 100 members)");
    }
    const binding = { tenantId: caller.scope.tenantId, query: `read-by|${conversationId}|${found.log.seq}` };
    const after = pageTokens.decode<string>(binding, req.pageToken);
    if (after !== undefined && typeof after !== "string") throw invalid("page_token", "not valid for this query");
    const seq = found.log.seq;
    const out: ReadStateRecord[] = [];
    let cursor = after;
    // Conversations sharing receipts are small: a few pages of rows at most.
    for (;;) {
      const rows = await stores.readStates.ofConversation(caller.scope, conversationId, { ...(cursor === undefined ? {} : { afterUserId: cursor }), limit: 500 });
      const candidates = rows.filter((r) => r.lastReadSeq >= seq && r.userId !== found.message.senderId);
      const active = new Set(
        candidates.length === 0
          ? []
          : (
              await stores.members.getMany(
                caller.scope,
                conversationId,
                candidates.map((r) => r.userId),
              )
            )
              .filter((m) => m.active && m.joinedSeq <= seq)
              .map((m) => m.userId),
      );
      out.push(...candidates.filter((r) => active.has(r.userId)));
      if (out.length > limit || rows.length < 500) break;
      cursor = rows[rows.length - 1]!.userId;
    }
    const shown = out.slice(0, limit);
    const last = shown[shown.length - 1];
    return create(ListReadByResponseSchema, {
      receipts: shown.map(receiptView),
      nextPageToken: out.length > limit && last ? pageTokens.encode(binding, last.userId) : "",
    });
  }

  private async move(caller: Caller, req: { conversationId: string; seq: bigint }, marker: "read" | "delivered"): Promise<ReadState> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    if (req.seq <= 0n) throw invalid("seq", "must be positive");
    const access: MemberAccess = await this.core.requireMember(caller, conversationId);
    const { stores, clock } = this.core;
    const head = await stores.events.head(caller.scope, conversationId, projectedHead(access.conversation));
    const seq = req.seq > BigInt(head.seq) ? head.seq : Number(req.seq);
    let state = await stores.readStates.get(caller.scope, conversationId, caller.userId);
    const current = marker === "read" ? (state?.lastReadSeq ?? 0) : (state?.lastDeliveredSeq ?? 0);
    let moved = false;
    if (seq > current) {
      const nowMs = clock.nowMs();
      if (marker === "read") {
        const [at] = await stores.events.read(caller.scope, conversationId, seq - 1, 1);
        if (at) {
          const before = state?.lastReadSeq ?? 0;
          state = await stores.readStates.advance(caller.scope, { conversationId, userId: caller.userId, seq, countableSeq: at.countableSeq, timeMs: nowMs });
          moved = state.lastReadSeq > before;
          if (moved) await stores.mentions.prune(caller.scope, caller.userId, conversationId, state.lastReadSeq);
        }
      } else {
        state = await stores.readStates.advanceDelivered(caller.scope, { conversationId, userId: caller.userId, seq, timeMs: nowMs });
        moved = state.lastDeliveredSeq > current;
      }
      if (moved) {
        // Selects the conversation in GetChanges for the caller's devices and, with receipts, the other members.
        await stores.conversations.recordEvent(caller.scope, conversationId, { seq: head.seq, countableSeq: head.countableSeq, timeMs: nowMs, activity: false });
      }
    }
    const countable = Math.max(head.countableSeq, access.conversation.countableSeq);
    const view = readStateView(conversationId, caller.userId, state, countable, await mentionCount(this.core, caller.scope, caller.userId, conversationId, state));
    if (moved && this.publish) {
      await this.publish(markerMovedRecord(caller.scope.tenantId, caller.userId, marker, view, clock.nowMs(), currentScope()?.correlationId));
    }
    return view;
  }
}
