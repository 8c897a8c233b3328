import { create, toJson } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  EraseTenantDataResponseSchema,
  EraseUserDataResponseSchema,
  type EraseTenantDataRequest,
  type EraseTenantDataResponse,
  ExportUserDataResponseSchema,
  type ApplyRetentionRequest,
  type ApplyRetentionResponse,
  type EraseUserDataRequest,
  type EraseUserDataResponse,
  type ExportUserDataRequest,
  type ExportUserDataResponse,
} from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { EventSchema, ReactionRemovedSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { LogEvent } from "@caas/shared/eventing/log";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { FailedPreconditionError } from "@caas/shared/errors";
import { internalTenantScope, serviceCallerOf } from "../chat-internal-service.js";
import type { TenantRowEraser } from "../ports/chat-stores.js";
import type { ChatCore } from "../core.js";
import { decodeEvent, payloadHash, systemKey } from "../domain/events.js";
import { checkUserId, checkUuid, scanPageSize } from "../domain/input.js";
import { markOf } from "../domain/marks.js";
import { seqOfMessageId } from "../domain/message-ids.js";
import { deleteManyForEveryone, type LoggedMessage } from "./redaction.js";
import { RetentionOps } from "./retention-ops.js";

/** Where a user-data scan stands: the index into the user's conversations (sorted by id) and the last seq read there. */
type Cursor = [conversationIndex: number, afterSeq: number];

/** The ChatInternalService RPCs that walk conversation logs for the compliance service (user data, retention). */
/** Rows per table a tenant-data erasure call deletes when the request names no page size. */
const TENANT_PAGE = 1000;

export type UserDataRpcNames = "exportUserData" | "eraseUserData" | "applyRetention" | "eraseTenantData";

/** Events scanned per call unless the caller asks for another page size. */
const DEFAULT_SCAN = 500;

/** One page of a scan: the events read in one conversation and the cursor after them. */
interface Step {
  conversationId: string;
  logs: LogEvent[];
  next: Cursor;
}

/**
 * What chat holds about one user, for the compliance service: ExportUserData (their memberships,
 * read positions, messages with edits, reactions, as JSON lines) and EraseUserData (their
 * messages deleted for everyone through the log exactly as DeleteMessage does, their reactions
 * removed with ReactionRemoved, their read positions dropped). Both walk the user's conversations
 * (active and former memberships, by id) and each conversation's log in seq order, a bounded
 * page per call, so memory stays bounded for users with any number of messages.
 */
export class UserDataOps {
  private readonly retention: RetentionOps;

  constructor(
    private readonly core: ChatCore,
    private readonly tenantRows?: TenantRowEraser,
  ) {
    this.retention = new RetentionOps(core);
  }

  /** A deleted tenant's rows, a page per table per call (tenant deletion, after ShredTenantKeys); the files are scrubbed once none are left. */
  async eraseTenantData(req: EraseTenantDataRequest, ctx: HandlerContext): Promise<EraseTenantDataResponse> {
    serviceCallerOf(ctx);
    const { tenantId } = internalTenantScope(req.tenantId);
    if (!this.tenantRows) throw new FailedPreconditionError("this chat instance cannot erase tenant data");
    const { removed, more } = await this.tenantRows.eraseTenantRows(tenantId, req.pageSize === 0 ? TENANT_PAGE : req.pageSize);
    if (!more) await this.core.stores.scrub();
    return create(EraseTenantDataResponseSchema, { rowsRemoved: BigInt(removed), more });
  }

  /** Retention cuts for the compliance service's sweeps (RetentionOps). */
  applyRetention(req: ApplyRetentionRequest, ctx: HandlerContext): Promise<ApplyRetentionResponse> {
    return this.retention.applyRetention(req, ctx);
  }

  async exportUserData(req: ExportUserDataRequest, ctx: HandlerContext): Promise<ExportUserDataResponse> {
    serviceCallerOf(ctx);
    const { scope, userId, limit } = this.checked(req);
    const binding = { tenantId: scope.tenantId, query: `user-data-export|${userId}` };
    const cursor = this.core.pageTokens.decode<Cursor>(binding, req.pageToken);
    const conversations = await this.conversationsOf(scope, userId);
    const lines: string[] = [];
    if (!cursor) {
      const members = await this.core.stores.members.ofUser(scope, userId, { leftAfterMs: 0 });
      for (const m of members.sort((a, b) => a.conversationId.localeCompare(b.conversationId))) lines.push(JSON.stringify({ kind: "membership", ...m }));
      for (const r of await this.core.stores.readStates.ofUser(scope, userId, conversations)) lines.push(JSON.stringify({ kind: "read_state", ...r }));
    }
    const step = await this.scan(scope, conversations, cursor ?? [0, 0], limit, new Set());
    for (const log of step?.logs ?? []) {
      const event = decodeEvent(log);
      const kind = exportKind(log, event, userId);
      if (kind) lines.push(JSON.stringify({ kind, conversationId: log.conversationId, seq: log.seq, redacted: log.redacted, event: toJson(EventSchema, event) }));
    }
    return create(ExportUserDataResponseSchema, { jsonLines: lines, nextPageToken: step ? this.core.pageTokens.encode(binding, step.next) : "" });
  }

  async eraseUserData(req: EraseUserDataRequest, ctx: HandlerContext): Promise<EraseUserDataResponse> {
    serviceCallerOf(ctx);
    const { scope, userId, limit } = this.checked(req);
    const held = new Set(req.heldConversationIds.map((id, i) => checkUuid(`held_conversation_ids[${i}]`, id)));
    const binding = { tenantId: scope.tenantId, query: `user-data-erase|${userId}|${[...held].sort().join(",")}` };
    const cursor = this.core.pageTokens.decode<Cursor>(binding, req.pageToken) ?? [0, 0];
    const conversations = await this.conversationsOf(scope, userId);
    const out = create(EraseUserDataResponseSchema, {});
    const step = await this.scan(scope, conversations, cursor, limit, held, out.skippedConversationIds);
    // A page is of one conversation: its messages are deleted together (a batch append, a few writes).
    const messages: LoggedMessage[] = [];
    for (const log of step?.logs ?? []) {
      const event = decodeEvent(log);
      if (event.payload.case === "messageCreated" && !log.redacted && event.payload.value.message?.senderId === userId) {
        messages.push({ log, event });
      } else if (event.payload.case === "reactionAdded" && log.actorId === userId && (await this.removeReaction(scope, log, event))) {
        out.reactionsRemoved++;
      }
    }
    if (step && messages.length > 0) await deleteManyForEveryone(this.core, scope, step.conversationId, messages);
    out.messagesErased += BigInt(messages.length);
    if (!step) {
      // The last call: read positions go once every message is erased (they only point at seqs).
      out.readStatesDropped = BigInt(
        await this.core.stores.readStates.forget(
          scope,
          userId,
          conversations.filter((c) => !held.has(c)),
        ),
      );
      // Then the redacted bodies leave the files too (SQLite: the WAL's older frames).
      await this.core.stores.scrub();
    }
    out.nextPageToken = step ? this.core.pageTokens.encode(binding, step.next) : "";
    return out;
  }

  private checked(req: { tenantId: string; userId: string; pageSize: number }): { scope: TenantScope; userId: string; limit: number } {
    return { scope: internalTenantScope(req.tenantId), userId: checkUserId("user_id", req.userId), limit: scanPageSize(req.pageSize, DEFAULT_SCAN) };
  }

  /** Every conversation the user is or was a member of, by id. */
  private async conversationsOf(scope: TenantScope, userId: string): Promise<string[]> {
    const members = await this.core.stores.members.ofUser(scope, userId, { leftAfterMs: 0 });
    return [...new Set(members.map((m) => m.conversationId))].sort();
  }

  /**
   * Up to `limit` events from the cursor on, within one conversation (the next call moves to the
   * next conversation), or undefined once every conversation was read to its end. Conversations
   * in `held` are passed over whole and named in `skipped` (once: the cursor then moves past them).
   */
  private async scan(scope: TenantScope, conversations: string[], cursor: Cursor, limit: number, held: Set<string>, skipped: string[] = []): Promise<Step | undefined> {
    let [index, afterSeq] = cursor;
    while (index < conversations.length) {
      const conversationId = conversations[index]!;
      if (held.has(conversationId)) {
        skipped.push(conversationId);
        index++;
        afterSeq = 0;
        continue;
      }
      const logs = await this.core.stores.events.read(scope, conversationId, afterSeq, limit);
      if (logs.length > 0) {
        const next: Cursor = logs.length < limit ? [index + 1, 0] : [index, logs[logs.length - 1]!.seq];
        return { conversationId, logs, next };
      }
      index++;
      afterSeq = 0;
    }
    return undefined;
  }

  /** Removes the reaction this ReactionAdded set, if it is still present; true when it was. */
  private async removeReaction(scope: TenantScope, log: LogEvent, event: Event): Promise<boolean> {
    if (event.payload.case !== "reactionAdded") return false;
    const { messageId, reaction } = event.payload.value;
    const messageSeq = seqOfMessageId(messageId);
    if (messageSeq === undefined) return false;
    const current = await this.core.stores.marks.get(scope, log.conversationId, messageSeq, "reaction", reaction, log.actorId);
    if (!current?.present) return false;
    const committed = await this.core.writer.append(scope, {
      conversationId: log.conversationId,
      actorId: log.actorId,
      clientMessageId: systemKey("reaction removed", messageId, reaction, current.seq),
      payloadHash: payloadHash({ remove: messageId, reaction }),
      countable: false,
      payload: () => ({ case: "reactionRemoved", value: create(ReactionRemovedSchema, { messageId, reaction }) }),
    });
    const mark = markOf(committed.log, committed.event);
    if (mark) await this.core.stores.marks.apply(scope, mark);
    return true;
  }
}

/** The export line kind of an event the user caused or sent, or undefined for events that are not theirs. */
function exportKind(log: LogEvent, event: Event, userId: string): string | undefined {
  switch (event.payload.case) {
    case "messageCreated":
      return event.payload.value.message?.senderId === userId ? "message" : undefined;
    case "messageEdited":
      return log.actorId === userId ? "edit" : undefined;
    case "reactionAdded":
    case "reactionRemoved":
      return log.actorId === userId ? "reaction" : undefined;
    default:
      return undefined;
  }
}
