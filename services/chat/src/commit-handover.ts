import { AsyncLocalStorage } from "node:async_hooks";
import type { LogEvent } from "@caas/shared/eventing/log";

/** One append of a conversation, from the moment the log gave it a seq until it is handed over or came to nothing. */
export interface HandoverSlot {
  /** The append committed this event: hand it over once the slots before it are settled. */
  committed(event: LogEvent): void;
  /** The append committed nothing (a duplicate, a failure before the commit). */
  dropped(): void;
}

interface Slot {
  event?: LogEvent;
  settled: boolean;
  /** Runs a function in the async context of the append (the request's correlation id). */
  inContext: <R>(fn: () => R) => R;
}

/**
 * Hands an instance's commits of each conversation to `onCommit` in seq order (ADR 0215). A
 * commit is handed over after its projection ran (so the relay can mark it projected), and the
 * projections of two sends to one conversation may finish in either order: a slot is opened when
 * the log assigns the seq (the store assigns an instance's seqs of one conversation one append at
 * a time, so slots open in seq order), and a commit waits for the slots opened before it. Each
 * `onCommit` runs in its own append's async context.
 */
export class CommitHandover {
  private readonly queues = new Map<string, Slot[]>();

  constructor(private readonly onCommit: (event: LogEvent) => void) {}

  /** Opens the slot of an append whose seq was just assigned. Settle it exactly once. */
  open(tenantId: string, conversationId: string): HandoverSlot {
    const key = `${tenantId}|${conversationId}`;
    const slot: Slot = { settled: false, inContext: AsyncLocalStorage.snapshot() };
    const queue = this.queues.get(key);
    if (queue) queue.push(slot);
    else this.queues.set(key, [slot]);
    const settle = (event: LogEvent | undefined) => {
      if (slot.settled) return;
      slot.settled = true;
      if (event) slot.event = event;
      this.drain(key);
    };
    return { committed: (event) => settle(event), dropped: () => settle(undefined) };
  }

  private drain(key: string): void {
    const queue = this.queues.get(key);
    if (!queue) return;
    while (queue.length > 0 && queue[0]!.settled) {
      const slot = queue.shift()!;
      const event = slot.event;
      if (event) slot.inContext(() => this.onCommit(event));
    }
    if (queue.length === 0) this.queues.delete(key);
  }
}
