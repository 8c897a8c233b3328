import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  EditMessageResponseSchema,
  ListEditHistoryResponseSchema,
  type EditMessageRequest,
  type EditMessageResponse,
  type ListEditHistoryRequest,
  type ListEditHistoryResponse,
} from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { MessageEditedSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { MessageRevisionSchema, type MessageRevision } from "@caas/gen/caas/chat/v1/message_pb.js";
import { FailedPreconditionError, NotFoundError, PermissionDeniedError } from "@caas/shared/errors";
import type { Caller, ChatCore } from "../core.js";
import { decodeEvent, payloadHash, systemKey } from "../domain/events.js";
import { checkBody, checkEncrypted, encryptedDigest } from "../domain/encrypted.js";
import { checkCustom, checkUserId, checkUuid, invalid, pageSize } from "../domain/input.js";
import { markOf } from "../domain/marks.js";
import { MAX_TEXT_CHARS, tooManyChars, type MessageOps } from "./message-ops.js";
import { writableMessage } from "./message-target.js";
import { MessageViews } from "./message-views.js";
import { recordMentions } from "./mention-ops.js";
import { redactEdits } from "./redaction.js";

/**
 * EditMessage and ListEditHistory. An edit is a MessageEdited event in the log (the body of each
 * version stays there); the marks projection records which events edited which message, so reads
 * find the latest version and the history without scanning the log.
 */
export class EditOps {
  private readonly views: MessageViews;

  constructor(
    private readonly core: ChatCore,
    private readonly messages: MessageOps,
  ) {
    this.views = new MessageViews(core);
  }

  async edit(caller: Caller, req: EditMessageRequest): Promise<EditMessageResponse> {
    if (tooManyChars(req.text, MAX_TEXT_CHARS)) throw invalid("text", `at most ${MAX_TEXT_CHARS} characters`);
    if (req.mentionedUserIds.length > 50) throw invalid("mentioned_user_ids", "at most 50");
    const mentions = req.mentionedUserIds.map((id, i) => checkUserId(`mentioned_user_ids[${i}]`, id));
    if (new Set(mentions).size !== mentions.length) throw invalid("mentioned_user_ids", "must be unique");
    checkCustom("custom", req.custom, this.core.limits.maxCustomBytes);
    if (req.encrypted !== undefined) checkEncrypted(req.encrypted);
    const t = await writableMessage(this.core, this.messages, caller, req, { allowDeleted: false, action: "message.edit" });
    const { message, log } = t.found;
    if (message.senderId !== caller.userId) throw new PermissionDeniedError("only the sender edits a message");
    checkBody(t.conversation.e2ee === true, { text: req.text, custom: req.custom, attachments: 0, encrypted: req.encrypted });
    if (req.text === "" && req.custom === undefined && req.encrypted === undefined && message.attachments.length === 0) throw invalid("text", "a message needs text, attachments or custom data");
    const { stores, writer } = this.core;
    const members = mentions.length === 0 ? [] : await stores.members.getMany(caller.scope, t.conversationId, mentions);
    const mentionable = new Set(members.filter((m) => m.active).map((m) => m.userId));
    const kept = mentions.filter((m) => mentionable.has(m));
    // The version this edit replaces: a retry of the same edit on the same version is one event.
    const previous = (await stores.marks.ofMessages(caller.scope, t.conversationId, [log.seq])).filter((m) => m.kind === "edit").reduce((a, m) => Math.max(a, m.seq), 0);
    const hash = payloadHash({ id: message.id, text: req.text, mentions: kept, custom: req.custom ?? null, previous, ...(req.encrypted ? { encrypted: encryptedDigest(req.encrypted) } : {}) });
    const committed = await writer.append(caller.scope, {
      conversationId: t.conversationId,
      actorId: caller.userId,
      clientMessageId: systemKey("message edited", message.id, previous, hash),
      payloadHash: hash,
      countable: false,
      payload: (h) => ({
        case: "messageEdited",
        value: create(MessageEditedSchema, {
          messageId: message.id,
          text: req.text,
          mentionedUserIds: kept,
          ...(req.custom === undefined ? {} : { custom: req.custom }),
          ...(req.encrypted === undefined ? {} : { encrypted: req.encrypted }),
          editTime: timestampFromMs(h.createTimeMs),
          messageSeq: BigInt(log.seq),
          senderId: message.senderId,
          ...(message.createTime ? { messageCreateTime: message.createTime } : {}),
          messageAttachmentCount: message.attachments.length,
        }),
      }),
    });
    const mark = markOf(committed.log, committed.event);
    if (mark) await stores.marks.apply(caller.scope, mark);
    // A delete that ran meanwhile may have missed this edit: redact it as well.
    const now = await this.messages.find(caller.scope, t.conversationId, message.id);
    if (!now || now.message.deleted) {
      await redactEdits(this.core, caller.scope, t.conversationId, log.seq);
      throw new FailedPreconditionError("the message was deleted");
    }
    await recordMentions(this.core, caller.scope, { conversationId: t.conversationId, seq: message.seq, senderId: message.senderId, mentionedUserIds: kept }, committed.log.createTimeMs);
    const [view] = await this.views.materialize(caller.scope, caller.userId, t.conversationId, [now]);
    return create(EditMessageResponseSchema, { message: view! });
  }

  async history(caller: Caller, req: ListEditHistoryRequest): Promise<ListEditHistoryResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const messageId = checkUuid("message_id", req.messageId);
    const limit = pageSize(req.pageSize, 50, 100);
    await this.core.requireReader(caller, conversationId);
    const found = await this.messages.find(caller.scope, conversationId, messageId);
    if (!found) throw new NotFoundError("message");
    const binding = { tenantId: caller.scope.tenantId, query: `edits|${conversationId}|${found.message.id}` };
    const after = this.core.pageTokens.decode<number>(binding, req.pageToken) ?? 0;
    if (!Number.isSafeInteger(after)) throw invalid("page_token", "not valid for this query");
    // A deleted message has no versions: every one of them is redacted.
    if (found.message.deleted) return create(ListEditHistoryResponseSchema, {});
    const m = found.message;
    const revisions: MessageRevision[] = [
      create(MessageRevisionSchema, {
        seq: m.seq,
        text: m.text,
        mentionedUserIds: m.mentionedUserIds,
        ...(m.custom ? { custom: m.custom } : {}),
        ...(m.encrypted ? { encrypted: m.encrypted } : {}),
        ...(m.createTime ? { createTime: m.createTime } : {}),
      }),
    ];
    const edits = (await this.core.stores.marks.ofMessages(caller.scope, conversationId, [found.log.seq])).filter((x) => x.kind === "edit").sort((a, b) => a.seq - b.seq);
    for (const e of edits.filter((x) => x.seq > after)) {
      if (revisions.length > limit + 1) break;
      const [log] = await this.core.stores.events.read(caller.scope, conversationId, e.seq - 1, 1);
      if (!log || log.seq !== e.seq || log.redacted) continue;
      const p = decodeEvent(log).payload;
      if (p.case !== "messageEdited") continue;
      revisions.push(
        create(MessageRevisionSchema, {
          seq: BigInt(log.seq),
          text: p.value.text,
          mentionedUserIds: p.value.mentionedUserIds,
          ...(p.value.custom ? { custom: p.value.custom } : {}),
          ...(p.value.encrypted ? { encrypted: p.value.encrypted } : {}),
          createTime: timestampFromMs(log.createTimeMs),
        }),
      );
    }
    const page = revisions.filter((r) => Number(r.seq) > after);
    const shown = page.slice(0, limit);
    const next = page.length > limit ? Number(shown[shown.length - 1]!.seq) : undefined;
    return create(ListEditHistoryResponseSchema, {
      revisions: shown,
      nextPageToken: next === undefined ? "" : this.core.pageTokens.encode(binding, next),
    });
  }
}
