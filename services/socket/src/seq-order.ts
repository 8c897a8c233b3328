import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";

interface Track {
  /** The seq to apply next. */
  next: bigint;
  /** Events that arrived ahead of `next`. */
  held: Map<bigint, Event>;
  timer?: NodeJS.Timeout;
}

/** How long a gap is waited for and how many conversations are tracked. */
export interface SeqOrderOptions {
  /** Events ahead of a gap wait at most this long for it (ms); then the gap is skipped. */
  holdMs: number;
  /** Conversations whose position is remembered; the least recently active are forgotten. */
  maxTracked: number;
}

/**
 * Puts each conversation's live events back in seq order before they are applied: the bus keeps
 * order per relay, but two chat instances relaying one conversation may interleave. An event
 * ahead of a gap waits (at most `holdMs`) for the missing seqs, so a membership change is always
 * applied before the events after it; seqs already applied are dropped (at-least-once delivery).
 * The first event seen of a conversation sets its position (consumers start from the newest
 * record). A gap that outlives the wait is skipped: clients see it and call Sync (DESIGN).
 * Single process.
 */
export class SeqOrder {
  private readonly tracks = new Map<string, Track>();

  constructor(
    private readonly apply: (tenantId: string, event: Event) => void,
    private readonly opts: SeqOrderOptions,
  ) {}

  /** Takes one event from the bus; applies it, and any it unblocks, in seq order. */
  push(tenantId: string, event: Event): void {
    const k = `${tenantId}\u0000${event.conversationId}`;
    let track = this.tracks.get(k);
    if (track) this.tracks.delete(k);
    else track = { next: event.seq, held: new Map() };
    this.tracks.set(k, track);
    this.evict();
    if (event.seq < track.next || track.held.has(event.seq)) return;
    track.held.set(event.seq, event);
    this.release(tenantId, track);
    if (track.held.size > 0 && !track.timer) this.arm(tenantId, track);
  }

  /** Stops the gap timers. */
  close(): void {
    for (const t of this.tracks.values()) clearTimeout(t.timer);
    this.tracks.clear();
  }

  private arm(tenantId: string, track: Track): void {
    track.timer = setTimeout(() => {
      track.timer = undefined;
      if (track.held.size === 0) return;
      track.next = [...track.held.keys()].reduce((a, b) => (a < b ? a : b));
      this.release(tenantId, track);
      if (track.held.size > 0) this.arm(tenantId, track);
    }, this.opts.holdMs);
    track.timer.unref();
  }

  private release(tenantId: string, track: Track): void {
    for (let e = track.held.get(track.next); e; e = track.held.get(track.next)) {
      track.held.delete(track.next);
      track.next += 1n;
      this.apply(tenantId, e);
    }
  }

  private evict(): void {
    for (const [k, t] of this.tracks) {
      if (this.tracks.size <= this.opts.maxTracked) return;
      if (t.held.size > 0) continue;
      this.tracks.delete(k);
    }
  }
}
