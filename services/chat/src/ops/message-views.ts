import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { MessageSchema, ReactionCountSchema, ThreadSummarySchema, type Message, type ThreadSummary } from "@caas/gen/caas/chat/v1/message_pb.js";
import type { LogEvent } from "@caas/shared/eventing/log";
import type { TenantScope } from "@caas/shared/tenant-scope";
import type { ChatCore } from "../core.js";
import { decodeEvent } from "../domain/events.js";
import type { MarkRecord, ThreadRecord } from "../ports/message-mark-store.js";

/** A message as its MessageCreated event carries it, with that event. */
export interface LoggedMessage {
  log: LogEvent;
  message: Message;
}

/**
 * Materialises messages for a reader (caas.chat.v1.Message "as materialised from the
 * conversation log"): the latest edit's body and edit time, reaction counts (with the reader's
 * own), and the pin flag, from the message-marks projection. Tombstones keep no body, edits or
 * reactions.
 */
export class MessageViews {
  constructor(private readonly core: ChatCore) {}

  async materialize(scope: TenantScope, readerId: string, conversationId: string, found: LoggedMessage[]): Promise<Message[]> {
    if (found.length === 0) return [];
    const seqs = found.map((f) => f.log.seq);
    const [marks, threads] = await Promise.all([this.core.stores.marks.ofMessages(scope, conversationId, seqs), this.core.stores.marks.threads(scope, conversationId, seqs)]);
    const bySeq = new Map<number, MarkRecord[]>();
    for (const m of marks) bySeq.set(m.messageSeq, [...(bySeq.get(m.messageSeq) ?? []), m]);
    const threadOf = new Map(threads.map((t) => [t.messageSeq, threadView(t)]));
    const messages = await Promise.all(found.map((f) => this.one(scope, readerId, f, bySeq.get(f.log.seq) ?? [])));
    // Thread roots carry their summary (ADR 0021), tombstones too: their replies stay listed.
    for (const m of messages) {
      const thread = threadOf.get(Number(m.seq));
      if (thread) m.thread = thread;
    }
    return messages;
  }

  private async one(scope: TenantScope, readerId: string, f: LoggedMessage, marks: MarkRecord[]): Promise<Message> {
    const pinned = marks.some((m) => m.kind === "pin");
    if (f.message.deleted) return create(MessageSchema, { ...f.message, pinned });
    const counts = new Map<string, { count: number; reacted: boolean }>();
    for (const m of marks.filter((x) => x.kind === "reaction")) {
      const c = counts.get(m.key) ?? { count: 0, reacted: false };
      counts.set(m.key, { count: c.count + 1, reacted: c.reacted || m.userId === readerId });
    }
    const reactions = [...counts.entries()]
      .sort(([ka, a], [kb, b]) => b.count - a.count || (ka < kb ? -1 : ka > kb ? 1 : 0))
      .map(([reaction, c]) => create(ReactionCountSchema, { reaction, count: c.count, reacted: c.reacted }));
    const lastEdit = marks.filter((m) => m.kind === "edit").reduce<MarkRecord | undefined>((a, b) => (a && a.seq > b.seq ? a : b), undefined);
    const edited = lastEdit ? await this.edit(scope, f.log.conversationId, lastEdit.seq) : undefined;
    return create(MessageSchema, { ...f.message, ...(edited ?? {}), reactions, pinned });
  }

  /** The body an edit event set, unless it was redacted. */
  private async edit(scope: TenantScope, conversationId: string, seq: number): Promise<Partial<Message> | undefined> {
    const [log] = await this.core.stores.events.read(scope, conversationId, seq - 1, 1);
    if (!log || log.seq !== seq || log.redacted) return undefined;
    const p = decodeEvent(log).payload;
    if (p.case !== "messageEdited") return undefined;
    return {
      text: p.value.text,
      mentionedUserIds: p.value.mentionedUserIds,
      custom: p.value.custom,
      encrypted: p.value.encrypted,
      editTime: p.value.editTime ?? timestampFromMs(log.createTimeMs),
    };
  }
}

/** The public thread summary of a root message. */
function threadView(t: ThreadRecord): ThreadSummary {
  return create(ThreadSummarySchema, {
    replyCount: Math.min(t.replyCount, 2_147_483_647),
    lastReplySeq: BigInt(t.lastReplySeq),
    lastReplyTime: timestampFromMs(t.lastReplyTimeMs),
    participantIds: t.participantIds,
  });
}
