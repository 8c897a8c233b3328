import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { ApplyRetentionResponseSchema, type ApplyRetentionRequest, type ApplyRetentionResponse } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { NotFoundError } from "@caas/shared/errors";
import { internalTenantScope, serviceCallerOf } from "../chat-internal-service.js";
import type { ChatCore } from "../core.js";
import { decodeEvent } from "../domain/events.js";
import { checkUserId, checkUuid, invalid, scanPageSize } from "../domain/input.js";
import { messageOf } from "../domain/message-view.js";
import { deleteManyForEveryone, type LoggedMessage } from "./redaction.js";

/** Events scanned per call unless the caller asks for another page size. */
const DEFAULT_SCAN = 500;

/**
 * ChatInternalService.ApplyRetention: one conversation's log from its start in seq order, a
 * bounded page per call, up to the first event at or after the later of the two cuts (the log is
 * in commit order, so nothing after it is older). Expired messages are deleted for everyone
 * through the same path as erasure (MessageDeleted marked expired, body and edits redacted in
 * place), so readers see ordinary deletes and seqs stay dense; messages of held senders are kept
 * and counted. Already deleted messages are passed over, so a page redone after a crash, or a
 * second sweep, deletes nothing twice.
 */
export class RetentionOps {
  constructor(private readonly core: ChatCore) {}

  async applyRetention(req: ApplyRetentionRequest, ctx: HandlerContext): Promise<ApplyRetentionResponse> {
    serviceCallerOf(ctx);
    const scope = internalTenantScope(req.tenantId);
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const held = new Set(req.heldUserIds.map((id, i) => checkUserId(`held_user_ids[${i}]`, id)));
    if (held.size !== req.heldUserIds.length) throw invalid("held_user_ids", "must be unique");
    const limit = scanPageSize(req.pageSize, DEFAULT_SCAN);
    const messageBefore = req.messageBefore ? Number(timestampMs(req.messageBefore)) : 0;
    // The media of an expired message go with it; media_before reaches further back only when it is later.
    const mediaBefore = Math.max(messageBefore, req.mediaBefore ? Number(timestampMs(req.mediaBefore)) : 0);
    const conversation = await this.core.stores.conversations.get(scope, conversationId);
    if (!conversation) throw new NotFoundError("conversation");
    const binding = { tenantId: scope.tenantId, query: `retention|${conversationId}|${messageBefore}|${mediaBefore}|${req.dryRun}|${[...held].sort().join(",")}` };
    const afterSeq = this.core.pageTokens.decode<number>(binding, req.pageToken) ?? 0;
    const out = create(ApplyRetentionResponseSchema, {});
    const logs = mediaBefore > 0 ? await this.core.stores.events.read(scope, conversationId, afterSeq, limit) : [];
    let reachedCut = false;
    const expiring: LoggedMessage[] = [];
    for (const log of logs) {
      if (log.createTimeMs >= mediaBefore) {
        reachedCut = true;
        break;
      }
      if (log.redacted) continue;
      const event = decodeEvent(log);
      const message = messageOf(log, event);
      if (!message) continue;
      const expired = log.createTimeMs < messageBefore;
      if (held.has(message.senderId)) {
        if (expired) out.messagesHeld++;
        continue;
      }
      if (expired) {
        expiring.push({ log, event });
        out.messagesExpired++;
      }
      out.mediaIds.push(...message.attachments.map((a) => a.mediaId));
    }
    // The page's expired messages deleted together: one batch append, a few writes.
    if (!req.dryRun && expiring.length > 0) await deleteManyForEveryone(this.core, scope, conversationId, expiring, { expired: true });
    const more = !reachedCut && logs.length === limit;
    out.nextPageToken = more ? this.core.pageTokens.encode(binding, logs[logs.length - 1]!.seq) : "";
    if (!more && out.messagesExpired > 0n && !req.dryRun) await this.core.stores.scrub();
    return out;
  }
}
