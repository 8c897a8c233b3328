import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { LogEvent } from "@caas/shared/eventing/log";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { decodeEvent, summaryOf } from "../domain/events.js";
import { markOf } from "../domain/marks.js";
import { seqOfMessageId } from "../domain/message-ids.js";
import { LogWriter, projectionOf } from "../log-writer.js";
import { messageOf } from "../domain/message-view.js";
import type { ConversationStore, EventSummary } from "../ports/conversation-store.js";
import type { MessageMarkStore } from "../ports/message-mark-store.js";
import type { ProjectedCommits } from "./projected-commits.js";

/** The stores the chat projections live in. */
export interface ProjectionTargets {
  conversations: ConversationStore;
  marks: MessageMarkStore;
}

/**
 * Applies one committed event to every chat projection (ADR 0021): the conversation's counters,
 * activity and last message, and the message marks (reaction counts, pins, edits, thread
 * summaries). Each update is idempotent and keeps the state of the highest seq, so the commit
 * path, the consumer and a replay may all apply the same event, in any order.
 */
export async function applyToProjections(targets: ProjectionTargets, scope: TenantScope, log: LogEvent, event: Event = decodeEvent(log)): Promise<void> {
  await targets.conversations.recordEvent(scope, log.conversationId, conversationChange(log, event));
  const mark = markOf(log, event);
  if (mark) await targets.marks.apply(scope, mark);
  if (event.payload.case === "messageDeleted") {
    const seq = seqOfMessageId(event.payload.value.messageId);
    if (seq !== undefined) await targets.conversations.redactLastMessage(scope, log.conversationId, [seq]);
  }
}

/**
 * The conversation projection's change for an event. A replay meets deleted messages already
 * redacted: their summary is the deleted preview the commit path left (redactLastMessage), so
 * a replayed last message equals the live one.
 */
export function conversationChange(log: LogEvent, event: Event): EventSummary {
  const change = projectionOf(log, event);
  const message = log.redacted ? messageOf(log, event) : undefined;
  if (message && message.threadParentId === "") return { ...change, lastMessage: { ...summaryOf(message, log.createTimeMs), deleted: true } };
  return change;
}

/**
 * The log writer of the commit path: after each commit it applies the event to every projection
 * (read-your-writes) and records it in `projected`, so this instance's projector does not apply
 * it again.
 */
export class ProjectingLogWriter extends LogWriter {
  constructor(
    private readonly targets: ProjectionTargets,
    deps: ConstructorParameters<typeof LogWriter>[0],
    private readonly projected?: ProjectedCommits,
  ) {
    super(deps);
  }

  override async project(scope: TenantScope, log: LogEvent, event: Event): Promise<void> {
    await applyToProjections(this.targets, scope, log, event);
    this.projected?.add(log);
  }
}
