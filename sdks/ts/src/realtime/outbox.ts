import { CaasError, isRetryable } from "../errors.js";
import type { SendAck } from "../gen/caas/realtime/v1/frame_pb.js";

/** A message waiting to be committed. `clientMessageId` makes every retry the same send. */
export interface QueuedSend {
  clientMessageId: string;
  conversationId: string;
  text: string;
  mentionedUserIds?: string[];
  replyToMessageId?: string;
  threadParentId?: string;
  /** When it was queued (ms since epoch), for display. */
  queuedAt: number;
}

/**
 * Keeps queued sends across reloads (e.g. localStorage in a browser). `save` is called with the
 * whole queue after every change.
 */
export interface OutboxStore {
  load(): QueuedSend[];
  save(items: QueuedSend[]): void;
}

/** An in-memory store: the queue survives reconnects, not a restart of the app. */
export function memoryOutboxStore(): OutboxStore {
  let items: QueuedSend[] = [];
  return { load: () => items, save: (next) => void (items = next) };
}

/** What the outbox tells its owner. */
export interface OutboxListener {
  sent(item: QueuedSend, ack: SendAck): void;
  failed(item: QueuedSend, err: CaasError): void;
}

interface Entry {
  item: QueuedSend;
  /** Times it was handed to `transmit` before (a queue loaded from the store may have been sent already). */
  attempts: number;
  inflight: boolean;
  notBefore: number;
  waiters: { resolve(ack: SendAck): void; reject(err: CaasError): void }[];
}

/**
 * The offline send queue. Every send is kept until the server acknowledges it (a SendAck, also
 * for a duplicate) or refuses it for good; a send whose connection dropped before the answer goes
 * back to the queue and is sent again with the same client_message_id, which the server's
 * idempotency turns into the original ack (DESIGN "Idempotent send"). So nothing queued is lost
 * and nothing is committed twice.
 */
export class Outbox {
  private readonly entries: Entry[];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly store: OutboxStore,
    /** Sends one item; `previousAttempts` (0 on the first) tells the server a retry from a first attempt. */
    private readonly transmit: (item: QueuedSend, previousAttempts: number) => Promise<SendAck>,
    private readonly listener: OutboxListener,
    private readonly connected: () => boolean,
    private readonly maxInflight = 16,
  ) {
    this.entries = store.load().map((item) => ({ item, attempts: 1, inflight: false, notBefore: 0, waiters: [] }));
  }

  /** The sends not yet acknowledged, oldest first (for optimistic display). */
  pending(): QueuedSend[] {
    return this.entries.map((e) => e.item);
  }

  /** Queues a send; resolves with its ack, rejects only when the server refuses it for good. */
  enqueue(item: QueuedSend): Promise<SendAck> {
    const entry: Entry = { item, attempts: 0, inflight: false, notBefore: 0, waiters: [] };
    const done = new Promise<SendAck>((resolve, reject) => entry.waiters.push({ resolve, reject }));
    this.entries.push(entry);
    this.persist();
    this.flush();
    return done;
  }

  /** Sends what is due; the owner calls it when a connection is ready. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.connected()) return;
    const now = Date.now();
    let inflight = this.entries.filter((e) => e.inflight).length;
    let wakeAt = Infinity;
    for (const entry of this.entries) {
      if (inflight >= this.maxInflight) break;
      if (entry.inflight) continue;
      if (entry.notBefore > now) {
        wakeAt = Math.min(wakeAt, entry.notBefore);
        continue;
      }
      entry.inflight = true;
      inflight++;
      this.transmit(entry.item, entry.attempts++).then(
        (ack) => this.settle(entry, ack),
        (err: unknown) => this.retryOrFail(entry, CaasError.from(err)),
      );
    }
    if (wakeAt !== Infinity) this.timer = setTimeout(() => this.flush(), wakeAt - now);
  }

  /** Stops the retry timer (the queue itself stays in the store). */
  close(): void {
    clearTimeout(this.timer);
  }

  private settle(entry: Entry, ack: SendAck): void {
    this.remove(entry);
    this.listener.sent(entry.item, ack);
    for (const w of entry.waiters) w.resolve(ack);
    this.flush();
  }

  private retryOrFail(entry: Entry, err: CaasError): void {
    entry.inflight = false;
    if (!isRetryable(err)) {
      this.remove(entry);
      this.listener.failed(entry.item, err);
      for (const w of entry.waiters) w.reject(err);
      return;
    }
    // A dropped connection is retried on the next connect; a server's retry delay is honoured.
    entry.notBefore = Date.now() + (err.retryAfterMs ?? 250);
    this.flush();
  }

  private remove(entry: Entry): void {
    const i = this.entries.indexOf(entry);
    if (i >= 0) this.entries.splice(i, 1);
    this.persist();
  }

  private persist(): void {
    this.store.save(this.entries.map((e) => e.item));
  }
}
