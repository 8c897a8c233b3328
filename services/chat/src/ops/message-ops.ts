import { create } from "@bufbuild/protobuf";
import {
  GetMessageResponseSchema,
  ListMessagesResponseSchema,
  MessageOrder,
  type GetMessageRequest,
  type GetMessageResponse,
  type ListMessagesRequest,
  type ListMessagesResponse,
  type SendMessageRequest,
  type SendMessageResponse,
} from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import type { ForwardedFrom } from "@caas/gen/caas/chat/v1/message_pb.js";
import { NotFoundError } from "@caas/shared/errors";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { projectedHead, type Caller, type ChatCore } from "../core.js";
import { decodeEvent } from "../domain/events.js";
import { checkUuid, invalid, pageSize } from "../domain/input.js";
import { seqOfMessageId } from "../domain/message-ids.js";
import { messageOf } from "../domain/message-view.js";
import { MessageViews, type LoggedMessage } from "./message-views.js";
import { SendPath } from "./send-message.js";
import { unavailableMediaAttacher } from "../adapters/media-attacher-grpc.js";
import type { MediaAttacher } from "../ports/media-attacher.js";

export { MAX_TEXT_CHARS, MAX_ATTACHMENTS, tooManyChars } from "./send-message.js";

/**
 * SendMessage, ListMessages, GetMessage. Messages are read from the log itself. Attachments name
 * media uploaded through the media service; `media` attaches them to the conversation before the
 * commit (without one, sends with attachments are UNAVAILABLE).
 */
export class MessageOps {
  private readonly views: MessageViews;
  private readonly sendPath: SendPath;

  constructor(
    private readonly core: ChatCore,
    media: MediaAttacher = unavailableMediaAttacher("this chat instance has no media service"),
  ) {
    this.views = new MessageViews(core);
    this.sendPath = new SendPath(core, media, (caller, conversationId, messageId) => this.find(caller.scope, conversationId, messageId));
  }

  /** Sends a message: the write path reads top to bottom in send-message.ts (SendPath). */
  send(caller: Caller, req: SendMessageRequest, extra: { forwardedFrom?: ForwardedFrom; signal?: AbortSignal } = {}): Promise<SendMessageResponse> {
    return this.sendPath.send(caller, req, extra);
  }

  async get(caller: Caller, req: GetMessageRequest): Promise<GetMessageResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const messageId = checkUuid("message_id", req.messageId);
    await this.core.requireReader(caller, conversationId);
    const found = await this.find(caller.scope, conversationId, messageId);
    if (!found) throw new NotFoundError("message");
    const [message] = await this.views.materialize(caller.scope, caller.userId, conversationId, [found]);
    return create(GetMessageResponseSchema, { message: message! });
  }

  async list(caller: Caller, req: ListMessagesRequest): Promise<ListMessagesResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const limit = pageSize(req.pageSize, 50, 200);
    if (req.beforeSeq !== 0n && req.afterSeq >= req.beforeSeq) throw invalid("after_seq", "must be lower than before_seq");
    if (req.order !== MessageOrder.UNSPECIFIED && req.order !== MessageOrder.NEWEST_FIRST && req.order !== MessageOrder.OLDEST_FIRST) throw invalid("order", "unknown order");
    const access = await this.core.requireReader(caller, conversationId);
    const { events } = this.core.stores;
    const head = (await events.head(caller.scope, conversationId, projectedHead(access.conversation))).seq;
    const newestFirst = req.order !== MessageOrder.OLDEST_FIRST;
    const binding = {
      tenantId: caller.scope.tenantId,
      query: `messages|${conversationId}|${req.beforeSeq}|${req.afterSeq}|${newestFirst ? "desc" : "asc"}|${req.excludeThreadReplies}`,
    };
    const token = this.core.pageTokens.decode<number>(binding, req.pageToken);
    // The open range (low, high) of seqs still to page through.
    let low = clampSeq(req.afterSeq, head);
    let high = req.beforeSeq === 0n ? head + 1 : Math.min(clampSeq(req.beforeSeq, head + 1), head + 1);
    if (token !== undefined) {
      if (!Number.isSafeInteger(token)) throw invalid("page_token", "not valid for this query");
      if (newestFirst) high = Math.min(high, token);
      else low = Math.max(low, token);
    }
    const window = Math.min(1000, Math.max(100, limit * 2));
    const out: LoggedMessage[] = [];
    while (out.length <= limit && high - low > 1) {
      const from = newestFirst ? Math.max(low, high - 1 - window) : low;
      const count = Math.min(window, high - 1 - from);
      const batch = await events.read(caller.scope, conversationId, from, count);
      if (batch.length === 0) break;
      const ordered = newestFirst ? batch.reverse() : batch;
      for (const e of ordered) {
        const m = messageOf(e, decodeEvent(e));
        if (m && !(req.excludeThreadReplies && m.threadParentId !== "")) out.push({ log: e, message: m });
        if (out.length > limit) break;
      }
      if (newestFirst) high = batch[batch.length - 1]!.seq;
      else low = batch[batch.length - 1]!.seq;
    }
    const shown = out.slice(0, limit);
    const last = shown[shown.length - 1];
    const next = out.length > limit && last ? last.log.seq : undefined;
    return create(ListMessagesResponseSchema, {
      messages: await this.views.materialize(caller.scope, caller.userId, conversationId, shown),
      nextPageToken: next === undefined ? "" : this.core.pageTokens.encode(binding, next),
    });
  }

  /** The message with this id in this conversation (one point read of the log), if any. */
  async find(scope: TenantScope, conversationId: string, messageId: string): Promise<LoggedMessage | undefined> {
    const seq = seqOfMessageId(messageId);
    if (seq === undefined) return undefined;
    const [log] = await this.core.stores.events.read(scope, conversationId, seq - 1, 1);
    if (!log || log.seq !== seq) return undefined;
    const message = messageOf(log, decodeEvent(log));
    return message && message.id.toLowerCase() === messageId.toLowerCase() ? { log, message } : undefined;
  }
}

/** A uint64 seq from a request as a number, capped at `max`. */
function clampSeq(seq: bigint, max: number): number {
  return seq > BigInt(max) ? max : Number(seq);
}
