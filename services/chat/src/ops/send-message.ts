import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { JsonObject } from "@bufbuild/protobuf";
import { SendMessageResponseSchema, type SendMessageRequest, type SendMessageResponse } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { MessageCreatedSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { EncryptedContent } from "@caas/gen/caas/chat/v1/encrypted_pb.js";
import { AttachmentSchema, MessageSchema, type Attachment, type ForwardedFrom } from "@caas/gen/caas/chat/v1/message_pb.js";
import { abandonedAppend, type LogEvent } from "@caas/shared/eventing/log";
import { AlreadyExistsError, FailedPreconditionError, NotFoundError } from "@caas/shared/errors";
import { projectedHead, type Caller, type ChatCore, type MemberAccess } from "../core.js";
import type { Committed } from "../log-writer.js";
import { decodeEvent, payloadHash, type EventHeader } from "../domain/events.js";
import { checkBody, checkEncrypted, encryptedDigest } from "../domain/encrypted.js";
import { checkCustom, checkUserId, checkUuid, invalid } from "../domain/input.js";
import { messageIdFor } from "../domain/message-ids.js";
import { messageOf } from "../domain/message-view.js";
import type { AttachedMedia, MediaAttacher } from "../ports/media-attacher.js";
import { authorizeAction, restrictionOf, writeAttrs } from "./authorize.js";
import { recordMentions } from "./mention-ops.js";
import type { LoggedMessage } from "./message-views.js";

const CLIENT_MESSAGE_ID = /^[!-~]{1,64}$/;
/** Characters (code points) of a message text. */
export const MAX_TEXT_CHARS = 4000;
/** Attachments of one message (AttachMedia takes at most this many). */
export const MAX_ATTACHMENTS = 10;
/** An attachment name: like an uploaded file name, no control characters and no path separators. */
const ATTACHMENT_NAME = /^[^\x00-\x1f\x7f/\\]{1,255}$/u;

/** Whether `text` has more than `max` code points (counted only when its UTF-16 length could exceed it). */
export function tooManyChars(text: string, max: number): boolean {
  if (text.length <= max) return false;
  let n = 0;
  for (const _ of text) if (++n > max) return true;
  return false;
}

/** A send request after its checks: what the event is built from. */
interface CheckedSend {
  conversationId: string;
  clientMessageId: string;
  text: string;
  mentions: string[];
  custom: JsonObject | undefined;
  attachments: RequestedAttachment[];
  replyTo: string;
  threadParent: string;
  forwardedFrom: ForwardedFrom | undefined;
  /** The ciphertext of a message in an end-to-end encrypted conversation. */
  encrypted: EncryptedContent | undefined;
  /** The payload's hash: a retry with the same client_message_id must carry the same payload. */
  hash: string;
}

/** What the store of record said about the send (read once, before the commit). */
interface Admitted {
  access: MemberAccess;
  /** The mentioned users that are active members (the others are dropped from the message). */
  mentionable: Set<string>;
  attached: AttachedMedia[];
}

/**
 * The write path of a message, top to bottom in one place (ADR 0105):
 *
 * 1. check the request (INVALID_ARGUMENT) and count it against the send rate;
 * 2. authorize it against the store of record: membership, mute, blocks, archived, frozen, the
 *    tenant's ABAC policy; reply and thread targets, mentioned members; attach the media;
 * 3. build the MessageCreated event (once the log assigned its seq and commit time);
 * 4. append it to the conversation log: the group commit (the ack point);
 * 5. project it: the conversation projection and marks (by the log writer), and alongside them
 *    the sender's read position and the mention records; then ack.
 *
 * SendMessage, ForwardMessage and realtime send frames all come through here.
 */
export class SendPath {
  constructor(
    private readonly core: ChatCore,
    private readonly media: MediaAttacher,
    /** Finds a message by id in a conversation (reply and thread targets). */
    private readonly find: (caller: Caller, conversationId: string, messageId: string) => Promise<LoggedMessage | undefined>,
  ) {}

  /**
   * Sends a message. `forwardedFrom` (ForwardMessage) marks a copy of another message; its
   * idempotent retries are then recognised by the source, whatever its body became since.
   * `signal` is the caller's cancellation (its deadline or its going away): a send whose caller
   * is gone before the commit is abandoned (CANCELED or DEADLINE_EXCEEDED, nothing written); one
   * that committed stays committed, and a retry with the same client_message_id returns its ack.
   */
  async send(caller: Caller, req: SendMessageRequest, extra: { forwardedFrom?: ForwardedFrom; signal?: AbortSignal } = {}): Promise<SendMessageResponse> {
    const { signal } = extra;
    // 1. Check and count.
    const input = this.check(req, extra.forwardedFrom);
    await this.core.throttle(caller, "send", this.core.limits.sendRate);
    // 2. Authorize against the store of record.
    const admitted = await this.authorize(caller, input);
    // The reads above may have waited long (an overloaded store): nobody is waiting for this send any more.
    if (signal?.aborted) throw abandonedAppend(signal);
    // 3-5. Build, append, project (the writer applies the projections; `alongside` the sender's own follow-up).
    const { conversation } = admitted.access;
    const committed = await this.core.writer.append(caller.scope, {
      ...(signal ? { signal } : {}),
      conversationId: input.conversationId,
      actorId: caller.userId,
      clientMessageId: input.clientMessageId,
      payloadHash: input.hash,
      countable: true,
      headHint: projectedHead(conversation),
      payload: (header) => buildMessageCreated(caller, input, admitted, header),
      alongside: (c) => this.followUp(caller, input, c),
    });
    return ackOf(committed, input.hash);
  }

  /** 1. The request's checks; the sender is the caller, never a field. */
  private check(req: SendMessageRequest, forwardedFrom: ForwardedFrom | undefined): CheckedSend {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    if (!CLIENT_MESSAGE_ID.test(req.clientMessageId)) throw invalid("client_message_id", "1-64 printable ASCII characters");
    if (tooManyChars(req.text, MAX_TEXT_CHARS)) throw invalid("text", `at most ${MAX_TEXT_CHARS} characters`);
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
    return { conversationId, clientMessageId: req.clientMessageId, text: req.text, mentions, custom: req.custom, attachments, replyTo, threadParent, forwardedFrom, encrypted: req.encrypted, hash };
  }

  /** 2. The ABAC engine on the store of record (never a cache): channel roles, mute, DIRECT blocks, archived, frozen; then the targets and media. */
  private async authorize(caller: Caller, input: CheckedSend): Promise<Admitted> {
    const { core } = this;
    const { conversationId } = input;
    // The caller's mute is read with the membership (one round trip less, ADR 0026).
    const [access, mute] = await Promise.all([core.requireMember(caller, conversationId), restrictionOf(core, caller, conversationId, caller.userId, "mute")]);
    await authorizeAction(core, caller, "message.send", await writeAttrs(core, caller, access.conversation, access.member, { mute: { record: mute } }));
    // An end-to-end encrypted conversation takes ciphertext only; others never take ciphertext.
    checkBody(access.conversation.e2ee === true, { text: input.text, custom: input.custom, attachments: input.attachments.length, encrypted: input.encrypted });
    if (input.replyTo !== "" && !(await this.find(caller, conversationId, input.replyTo))) throw new NotFoundError("reply_to_message_id");
    if (input.threadParent !== "") {
      const parent = await this.find(caller, conversationId, input.threadParent);
      if (!parent) throw new NotFoundError("thread_parent_id");
      if (parent.message.threadParentId !== "") throw invalid("thread_parent_id", "a thread reply cannot have replies; use its root");
    }
    const members = input.mentions.length === 0 ? [] : await core.stores.members.getMany(caller.scope, conversationId, input.mentions);
    const mentionable = new Set(members.filter((m) => m.active).map((m) => m.userId));
    const attached = await this.attach(caller, input);
    return { access, mentionable, attached };
  }

  /**
   * Attaches the message's media to the conversation (before the commit: a failure commits
   * nothing). A retry of a message already committed under this client_message_id skips the
   * media service: the log returns the original ack (or ALREADY_EXISTS for another payload)
   * whether or not media is reachable now. A forward attaches by its source conversation; media
   * deleted since the source was sent cannot be forwarded.
   */
  private async attach(caller: Caller, input: CheckedSend): Promise<AttachedMedia[]> {
    const { attachments: wanted, conversationId, forwardedFrom } = input;
    if (wanted.length === 0) return [];
    const prior = await this.core.stores.events.findByClientMessageId(caller.scope, conversationId, caller.userId, input.clientMessageId);
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

  /**
   * 5. The sender's own follow-up, alongside the projection: sending reads everything up to one's
   * own message, and the mention records move (ADR 0026). A refused duplicate moves nothing.
   */
  private async followUp(caller: Caller, input: CheckedSend, { kind, log, event }: Committed): Promise<void> {
    const p = event.payload;
    if (kind === "duplicate" && (log.payloadHash !== input.hash || p.case !== "messageCreated")) return;
    const { scope, userId } = caller;
    await Promise.all([
      this.core.stores.readStates.moveRead(scope, { conversationId: input.conversationId, userId, seq: log.seq, countableSeq: log.countableSeq, timeMs: log.createTimeMs }),
      p.case === "messageCreated" && p.value.message ? recordMentions(this.core, scope, p.value.message, log.createTimeMs) : undefined,
    ]);
  }
}

/** 3. The MessageCreated payload, once the log assigned the seq and commit time (again on a retry of the batch). */
function buildMessageCreated(caller: Caller, input: CheckedSend, admitted: Admitted, h: EventHeader): Event["payload"] {
  return {
    case: "messageCreated",
    value: create(MessageCreatedSchema, {
      message: create(MessageSchema, {
        id: messageIdFor(h.seq, h.createTimeMs),
        conversationId: input.conversationId,
        seq: BigInt(h.seq),
        senderId: caller.userId,
        clientMessageId: input.clientMessageId,
        text: input.text,
        mentionedUserIds: input.mentions.filter((m) => admitted.mentionable.has(m)),
        ...(input.custom === undefined ? {} : { custom: input.custom }),
        ...(input.encrypted === undefined ? {} : { encrypted: input.encrypted }),
        attachments: attachmentsOf(input.attachments, admitted.attached),
        replyToMessageId: input.replyTo,
        threadParentId: input.threadParent,
        ...(input.forwardedFrom ? { forwardedFrom: input.forwardedFrom } : {}),
        createTime: timestampFromMs(h.createTimeMs),
      }),
    }),
  };
}

/** The ack: the committed message, or ALREADY_EXISTS when the client_message_id was used for another payload. */
function ackOf(committed: Committed, hash: string): SendMessageResponse {
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

/** An attachment as requested: the media id and the name to show ("" for the uploaded name). */
interface RequestedAttachment {
  mediaId: string;
  name: string;
}

/** SendMessage's attachments: at most 10, unique media ids, names like file names; mime_type and size_bytes are ignored. */
function checkAttachments(list: readonly Attachment[]): RequestedAttachment[] {
  if (list.length === 0) return [];
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
