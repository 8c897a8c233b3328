import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  ListPinsResponseSchema,
  PinMessageResponseSchema,
  UnpinMessageResponseSchema,
  type ListPinsRequest,
  type ListPinsResponse,
  type PinMessageRequest,
  type PinMessageResponse,
  type UnpinMessageRequest,
  type UnpinMessageResponse,
} from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { MessagePinnedSchema, MessageUnpinnedSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { PinnedMessageSchema } from "@caas/gen/caas/chat/v1/message_pb.js";
import { FailedPreconditionError } from "@caas/shared/errors";
import type { Caller, ChatCore } from "../core.js";
import { decodeEvent, payloadHash, systemKey } from "../domain/events.js";
import { checkUuid, invalid, pageSize } from "../domain/input.js";
import { markOf } from "../domain/marks.js";
import type { Committed } from "../log-writer.js";
import { messageOf } from "../domain/message-view.js";
import type { MessageOps } from "./message-ops.js";
import { writableMessage, type MessageTarget } from "./message-target.js";
import { MessageViews, type LoggedMessage } from "./message-views.js";

/** Pinned messages one conversation may have (the contract's limit). */
export const MAX_PINS = 50;

/**
 * PinMessage, UnpinMessage, ListPins. Pins are marks of the log's MessagePinned /
 * MessageUnpinned events; a call that changes nothing appends nothing.
 */
export class PinOps {
  private readonly views: MessageViews;

  constructor(
    private readonly core: ChatCore,
    private readonly messages: MessageOps,
  ) {
    this.views = new MessageViews(core);
  }

  async pin(caller: Caller, req: PinMessageRequest): Promise<PinMessageResponse> {
    const t = await this.target(caller, req, false);
    const { marks } = this.core.stores;
    const current = await marks.get(caller.scope, t.conversationId, t.found.log.seq, "pin", "", "");
    if (current?.present) return create(PinMessageResponseSchema, {});
    if ((await marks.count(caller.scope, t.conversationId, { kind: "pin" })) >= MAX_PINS) throw new FailedPreconditionError(`at most ${MAX_PINS} pinned messages`);
    const messageId = t.found.message.id;
    await this.apply(
      caller,
      await this.core.writer.append(caller.scope, {
        conversationId: t.conversationId,
        actorId: caller.userId,
        clientMessageId: systemKey("message pinned", messageId, current?.seq ?? 0),
        payloadHash: payloadHash({ pin: messageId }),
        countable: false,
        payload: () => ({ case: "messagePinned", value: create(MessagePinnedSchema, { messageId }) }),
      }),
    );
    return create(PinMessageResponseSchema, {});
  }

  async unpin(caller: Caller, req: UnpinMessageRequest): Promise<UnpinMessageResponse> {
    const t = await this.target(caller, req, true);
    const current = await this.core.stores.marks.get(caller.scope, t.conversationId, t.found.log.seq, "pin", "", "");
    if (!current?.present) return create(UnpinMessageResponseSchema, {});
    const messageId = t.found.message.id;
    await this.apply(
      caller,
      await this.core.writer.append(caller.scope, {
        conversationId: t.conversationId,
        actorId: caller.userId,
        clientMessageId: systemKey("message unpinned", messageId, current.seq),
        payloadHash: payloadHash({ unpin: messageId }),
        countable: false,
        payload: () => ({ case: "messageUnpinned", value: create(MessageUnpinnedSchema, { messageId }) }),
      }),
    );
    return create(UnpinMessageResponseSchema, {});
  }

  async list(caller: Caller, req: ListPinsRequest): Promise<ListPinsResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const limit = pageSize(req.pageSize, 50, 100);
    await this.core.requireReader(caller, conversationId);
    const binding = { tenantId: caller.scope.tenantId, query: `pins|${conversationId}` };
    const before = this.core.pageTokens.decode<number>(binding, req.pageToken);
    if (before !== undefined && !Number.isSafeInteger(before)) throw invalid("page_token", "not valid for this query");
    const { events, marks } = this.core.stores;
    const pins = await marks.pins(caller.scope, conversationId, { ...(before === undefined ? {} : { beforeSeq: before }), limit: limit + 1 });
    const shown = pins.slice(0, limit);
    const found: LoggedMessage[] = [];
    for (const pin of shown) {
      const [log] = await events.read(caller.scope, conversationId, pin.messageSeq - 1, 1);
      const message = log && log.seq === pin.messageSeq ? messageOf(log, decodeEvent(log)) : undefined;
      if (log && message) found.push({ log, message });
    }
    const views = await this.views.materialize(caller.scope, caller.userId, conversationId, found);
    const bySeq = new Map(views.map((m) => [Number(m.seq), m]));
    return create(ListPinsResponseSchema, {
      pins: shown.flatMap((p) => {
        const message = bySeq.get(p.messageSeq);
        return message ? [create(PinnedMessageSchema, { message, pinnedBy: p.actorId, pinTime: timestampFromMs(p.timeMs) })] : [];
      }),
      nextPageToken: pins.length > limit ? this.core.pageTokens.encode(binding, shown[shown.length - 1]!.seq) : "",
    });
  }

  private async target(caller: Caller, req: { conversationId: string; messageId: string }, allowDeleted: boolean): Promise<MessageTarget> {
    // The ABAC engine decides message.pin (role, tenant grants, archived, frozen) in writableMessage.
    return writableMessage(this.core, this.messages, caller, req, { allowDeleted, action: "message.pin" });
  }

  private async apply(caller: Caller, committed: Committed): Promise<void> {
    const mark = markOf(committed.log, committed.event);
    if (mark) await this.core.stores.marks.apply(caller.scope, mark);
  }
}
