import { create } from "@bufbuild/protobuf";
import { ListThreadRepliesResponseSchema, type ListThreadRepliesRequest, type ListThreadRepliesResponse } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { NotFoundError } from "@caas/shared/errors";
import type { Caller, ChatCore } from "../core.js";
import { decodeEvent } from "../domain/events.js";
import { checkUuid, invalid, pageSize } from "../domain/input.js";
import { messageOf } from "../domain/message-view.js";
import type { MessageOps } from "./message-ops.js";
import { MessageViews, type LoggedMessage } from "./message-views.js";

/**
 * ListThreadReplies: the replies of a thread root, oldest first, from the reply marks (the
 * thread projection, ADR 0021) and then one point read of the log per reply, so a long
 * conversation is never scanned. Deleted replies come back as tombstones. Readers are those of
 * the conversation (members, and anyone for OPEN conversations); anything else is NOT_FOUND.
 */
export class ThreadOps {
  private readonly views: MessageViews;

  constructor(
    private readonly core: ChatCore,
    private readonly messages: MessageOps,
  ) {
    this.views = new MessageViews(core);
  }

  async replies(caller: Caller, req: ListThreadRepliesRequest): Promise<ListThreadRepliesResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const parentId = checkUuid("thread_parent_id", req.threadParentId);
    const limit = pageSize(req.pageSize, 50, 200);
    if (req.pageToken.length > 1024) throw invalid("page_token", "at most 1024 characters");
    await this.core.requireReader(caller, conversationId);
    const parent = await this.messages.find(caller.scope, conversationId, parentId);
    if (!parent) throw new NotFoundError("thread_parent_id");
    const binding = { tenantId: caller.scope.tenantId, query: `thread|${conversationId}|${parentId}` };
    const after = this.core.pageTokens.decode<number>(binding, req.pageToken) ?? 0;
    if (!Number.isSafeInteger(after) || after < 0) throw invalid("page_token", "not valid for this query");
    const { marks, events } = this.core.stores;
    const replies = await marks.replies(caller.scope, conversationId, parent.log.seq, { afterSeq: after, limit: limit + 1 });
    const shown = replies.slice(0, limit);
    const found = await Promise.all(
      shown.map(async (mark): Promise<LoggedMessage | undefined> => {
        const [log] = await events.read(caller.scope, conversationId, mark.seq - 1, 1);
        if (!log || log.seq !== mark.seq) return undefined;
        const message = messageOf(log, decodeEvent(log));
        return message && message.threadParentId.toLowerCase() === parentId ? { log, message } : undefined;
      }),
    );
    const last = shown[shown.length - 1];
    return create(ListThreadRepliesResponseSchema, {
      messages: await this.views.materialize(
        caller.scope,
        caller.userId,
        conversationId,
        found.filter((f): f is LoggedMessage => f !== undefined),
      ),
      nextPageToken: replies.length > limit && last ? this.core.pageTokens.encode(binding, last.seq) : "",
    });
  }
}
