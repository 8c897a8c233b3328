import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  GetMessageResponseSchema,
  ListMessagesResponseSchema,
  MessageOrder,
  SendMessageResponseSchema,
  type GetMessageRequest,
  type GetMessageResponse,
  type ListMessagesRequest,
  type ListMessagesResponse,
  type SendMessageRequest,
  type SendMessageResponse,
} from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { MessageCreatedSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { AttachmentSchema, MessageSchema, type Attachment, type ForwardedFrom, type Message } from "@caas/gen/caas/chat/v1/message_pb.js";
import { abandonedAppend, type LogEvent } from "@caas/shared/eventing/log";
import { AlreadyExistsError, FailedPreconditionError, NotFoundError, PermissionDeniedError } from "@caas/shared/errors";
import type { TenantScope } from "@caas/shared/tenant-scope";
import type { Caller, ChatCore } from "../core.js";
import { decodeEvent, payloadHash } from "../domain/events.js";
import { checkBody, checkEncrypted, encryptedDigest } from "../domain/encrypted.js";
import { checkCustom, checkUserId, checkUuid, invalid, pageSize } from "../domain/input.js";
import { messageIdFor, seqOfMessageId } from "../domain/message-ids.js";
import { messageOf } from "../domain/message-view.js";
import { authorizeAction, restrictionOf, writeAttrs } from "./authorize.js";
import { MessageViews, type LoggedMessage } from "./message-views.js";
import { recordMentions } from "./mention-ops.js";
import { unavailableMediaAttacher } from "../adapters/media-attacher-grpc.js";
import type { AttachedMedia, MediaAttacher } from "../ports/media-attacher.js";

const CLIENT_MESSAGE_ID = /^[!-~]{1,64}$/;
/** Characters (code points) of a message text. */
export const MAX_TEXT_CHARS = 4000;
/** Attachments of one message (AttachMedia takes at most this many). */
export const MAX_ATTACHMENTS = 10;
/** An attachment name: like an uploaded file name, no control characters and no path separators. */
const ATTACHMENT_NAME = /^[^\x00-\x1f\x7f/\\]{1,255}$/u;

/**
 * SendMessage, ListMessages, GetMessage. Messages are read from the log itself. Attachments name
 * media uploaded through the media service; `media` attaches them to the conversation before the
 * commit (without one, sends with attachments are UNAVAILABLE).
 */
export class MessageOps {
  private readonly views: MessageViews;

  constructor(
    private readonly core: ChatCore,
    private readonly media: MediaAttacher = unavailableMediaAttacher("this chat instance has no media service"),
  ) {
    this.views = new MessageViews(core);
  }

  /**
   * Sends a message. `forwardedFrom` (ForwardMessage) marks a copy of another message; its
   * idempotent retries are then recognised by the source, whatever its body became since.
   * `signal` is the caller's cancellation (its deadline or its going away): a send whose caller
   * is gone before the commit is abandoned (CANCELED or DEADLINE_EXCEEDED, nothing written); one
   * that committed stays committed, and a retry with the same client_message_id returns its ack.
   */
  async send(caller: Caller, req: SendMessageRequest, extra: { forwardedFrom?: ForwardedFrom; signal?: AbortSignal } = {}): Promise<SendMessageResponse> {
    const { signal } = extra;
    const conversationId = checkUuid("conversation_id", req.conversationId);
    if (!CLIENT_MESSAGE_ID.test(req.clientMessageId)) throw invalid("client_message_id", "1-64 printable ASCII characters");
    if (Array.from(req.text).length > MAX_TEXT_CHARS) throw invalid("text", `at most ${MAX_TEXT_CHARS} characters`);
    if (req.text === "" && req.attachments.length === 0 && req.custom === undefined && req.encrypted === undefined)
      throw invalid("text", "a message needs text, attachments, custom data or encrypted content");
    if (req.encrypted !== undefined) checkEncrypted(req.encrypted);
    const attachments = checkAttachments(req.attachments);
    if (req.mentionedUserIds.length > 50) throw invalid("mentioned_user_ids", "at most 50");
    const mentions = req.mentionedUserIds.map((id, i) => checkUserId(`mentioned_user_ids[${i}]`, id));
    if (new Set(mentions).size !== mentions.length) throw invalid("mentioned_user_ids", "must be unique");
    checkCustom("custom", req.custom, this.core.limits.maxCustomBytes);
    const replyTo = req.replyToMessageId === "" ? "" : checkUuid("reply_to_message_id", req.replyToMessageId);
    const threadParent = req.threadParentId === "" ? "" : checkUuid("thread_parent_id", req.threadParentId);
    // The request's payload (the sender is the caller, never a field), for idempotent retries.
    const forwardedFrom = extra.forwardedFrom;
    const hash = forwardedFrom
      ? payloadHash({ forwardedFrom: { conversationId: forwardedFrom.conversationId, messageId: forwardedFrom.messageId } })
      : payloadHash({
          text: req.text,
          mentions,
          custom: req.custom ?? null,
          replyTo,
          threadParent,
          ...(attachments.length > 0 ? { attachments } : {}),
          ...(req.encrypted ? { encrypted: encryptedDigest(req.encrypted) } : {}),
        });

    await this.core.throttle(caller, "send", this.core.limits.sendRate);
    const { stores, writer } = this.core;
    // The caller's mute is read with the membership (one round trip less, ADR 0026).
    const [{ conversation, member }, mute] = await Promise.all([this.core.requireMember(caller, conversationId), restrictionOf(this.core, caller, conversationId, caller.userId, "mute")]);
    // The ABAC engine on the store of record: channel roles, mute, DIRECT blocks, archived, frozen.
    await authorizeAction(this.core, caller, "message.send", await writeAttrs(this.core, caller, conversation, member, { mute: { record: mute } }));
    checkBody(conversation.e2ee === true, { text: req.text, custom: req.custom, attachments: attachments.length, encrypted: req.encrypted });
    if (replyTo !== "" && !(await this.find(caller.scope, conversationId, replyTo))) throw new NotFoundError("reply_to_message_id");
    if (threadParent !== "") {
      const parent = await this.find(caller.scope, conversationId, threadParent);
      if (!parent) throw new NotFoundError("thread_parent_id");
      if (parent.message.threadParentId !== "") throw invalid("thread_parent_id", "a thread reply cannot have replies; use its root");
    }
    const members = mentions.length === 0 ? [] : await stores.members.getMany(caller.scope, conversationId, mentions);
    const mentionable = new Set(members.filter((m) => m.active).map((m) => m.userId));
    const attached = await this.attach(caller, conversationId, req.clientMessageId, attachments, forwardedFrom);

    // The reads above may have waited long (an overloaded store): nobody is waiting for this send any more.
    if (signal?.aborted) throw abandonedAppend(signal);
    const committed = await writer.append(caller.scope, {
      ...(signal ? { signal } : {}),
      conversationId,
      actorId: caller.userId,
      clientMessageId: req.clientMessageId,
      payloadHash: hash,
      countable: true,
      headHint: { seq: conversation.lastSeq, countableSeq: conversation.countableSeq },
      // Sending reads everything up to one's own message; the read position and the mention
      // records move alongside the projection (ADR 0026). A refused duplicate (below) moves nothing.
      alongside: async ({ kind, log, event }) => {
        const p = event.payload;
        if (kind === "duplicate" && (log.payloadHash !== hash || p.case !== "messageCreated")) return;
        await Promise.all([
          stores.readStates.moveRead(caller.scope, { conversationId, userId: caller.userId, seq: log.seq, countableSeq: log.countableSeq, timeMs: log.createTimeMs }),
          p.case === "messageCreated" && p.value.message ? recordMentions(this.core, caller.scope, p.value.message, log.createTimeMs) : undefined,
        ]);
      },
      payload: (h) => ({
        case: "messageCreated",
        value: create(MessageCreatedSchema, {
          message: create(MessageSchema, {
            id: messageIdFor(h.seq, h.createTimeMs),
            conversationId,
            seq: BigInt(h.seq),
            senderId: caller.userId,
            clientMessageId: req.clientMessageId,
            text: req.text,
            mentionedUserIds: mentions.filter((m) => mentionable.has(m)),
            ...(req.custom === undefined ? {} : { custom: req.custom }),
            ...(req.encrypted === undefined ? {} : { encrypted: req.encrypted }),
            attachments: attachmentsOf(attachments, attached),
            replyToMessageId: replyTo,
            threadParentId: threadParent,
            ...(forwardedFrom ? { forwardedFrom } : {}),
            createTime: timestampFromMs(h.createTimeMs),
          }),
        }),
      }),
    });
    const payload = committed.event.payload;
    if (committed.kind === "duplicate" && (committed.log.payloadHash !== hash || payload.case !== "messageCreated")) {
      throw new AlreadyExistsError("client_message_id was already used for another message in this conversation");
    }
    const { seq, createTimeMs } = committed.log;
    return create(SendMessageResponseSchema, {
      messageId: payload.case === "messageCreated" ? payload.value.message!.id : "",
      seq: BigInt(seq),
      createTime: timestampFromMs(createTimeMs),
      duplicate: committed.kind === "duplicate",
    });
  }

  /**
   * Attaches the message's media to the conversation (before the commit: a failure commits
   * nothing). A retry of a message already committed under this client_message_id skips the
   * media service: the log returns the original ack (or ALREADY_EXISTS for another payload)
   * whether or not media is reachable now. A forward attaches by its source conversation; media
   * deleted since the source was sent cannot be forwarded.
   */
  private async attach(caller: Caller, conversationId: string, clientMessageId: string, wanted: RequestedAttachment[], forwardedFrom: ForwardedFrom | undefined): Promise<AttachedMedia[]> {
    if (wanted.length === 0) return [];
    const prior = await this.core.stores.events.findByClientMessageId(caller.scope, conversationId, caller.userId, clientMessageId);
    if (prior) return committedMedia(prior, wanted);
    const ids = wanted.map((a) => a.mediaId);
    if (!forwardedFrom) return this.media.attach(caller.scope, conversationId, ids, { uploaderId: caller.userId });
    try {
      return await this.media.attach(caller.scope, conversationId, ids, { sourceConversationId: forwardedFrom.conversationId });
    } catch (err) {
      if (err instanceof NotFoundError) throw new FailedPreconditionError("an attachment of the message was deleted by its owner; the message cannot be forwarded");
      throw err;
    }
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
    await this.core.requireReader(caller, conversationId);
    const { events } = this.core.stores;
    const head = (await events.head(caller.scope, conversationId)).seq;
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

/** An attachment as requested: the media id and the name to show ("" for the uploaded name). */
interface RequestedAttachment {
  mediaId: string;
  name: string;
}

/** SendMessage's attachments: at most 10, unique media ids, names like file names; mime_type and size_bytes are ignored. */
function checkAttachments(list: readonly Attachment[]): RequestedAttachment[] {
  if (list.length > MAX_ATTACHMENTS) throw invalid("attachments", `at most ${MAX_ATTACHMENTS}`);
  const out = list.map((a, i) => {
    const mediaId = checkUuid(`attachments[${i}].media_id`, a.mediaId);
    if (a.name !== "" && !ATTACHMENT_NAME.test(a.name)) throw invalid(`attachments[${i}].name`, "1-255 characters, no control characters, '/' or '\\'");
    return { mediaId, name: a.name };
  });
  if (new Set(out.map((a) => a.mediaId)).size !== out.length) throw invalid("attachments", "media ids must be unique");
  return out;
}

/**
 * For a retry of a committed send: the media fields as that commit holds them (blank for ids it
 * does not hold). The append that follows returns the commit itself (an event log adapter may
 * still build the payload before it finds the duplicate; that payload is never stored).
 */
function committedMedia(prior: LogEvent, wanted: RequestedAttachment[]): AttachedMedia[] {
  const held = new Map((messageOf(prior, decodeEvent(prior))?.attachments ?? []).map((a) => [a.mediaId, a]));
  return wanted.map(({ mediaId }) => {
    const a = held.get(mediaId);
    return { id: mediaId, name: a?.name ?? "", mimeType: a?.mimeType ?? "", sizeBytes: a?.sizeBytes ?? 0n };
  });
}

/** The committed attachments: each requested one with the media record's type, size and (by default) name. */
function attachmentsOf(wanted: RequestedAttachment[], attached: AttachedMedia[]): Attachment[] {
  return wanted.map((a, i) => {
    const m = attached[i]!;
    return create(AttachmentSchema, { mediaId: a.mediaId, mimeType: m.mimeType, sizeBytes: m.sizeBytes, name: a.name === "" ? m.name : a.name });
  });
}

/** A uint64 seq from a request as a number, capped at `max`. */
function clampSeq(seq: bigint, max: number): number {
  return seq > BigInt(max) ? max : Number(seq);
}
