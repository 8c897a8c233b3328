/**
 * The soak's own record of what happened (sends, acknowledgements, deliveries) and the checks
 * made from it against the conversation logs read back at the end. Nothing here asks the
 * platform whether it behaved: the ledger is what clients saw.
 */

/** One send as the client made it: every attempt with the same client_message_id. */
export interface SendRecord {
  conversationId: string;
  clientMessageId: string;
  senderId: string;
  attempts: number;
  /** Codes of failed attempts, in order. */
  failures: string[];
  /** The acknowledgement (the first one; later retries must repeat it). */
  ack?: { messageId: string; seq: bigint; at: number };
  /** Acknowledgements of retries that disagree with the first one. */
  conflictingAcks: number;
  /** Given up after the retry budget (never acknowledged: may or may not be in the log). */
  abandoned: boolean;
  firstAttemptAt: number;
}

/** One event of a conversation log as read back at the end. */
export interface LoggedEvent {
  seq: bigint;
  /** Set for a message-created event. */
  message?: { id: string; clientMessageId: string; senderId: string };
}

/** What one subscriber's connections carried for one conversation, in arrival order. */
export interface Deliveries {
  /** Every seq delivered (pushed, filled or in a catch-up), repeats included. */
  seqs: bigint[];
  /** Deliveries of a seq lower than one already delivered on the same connection and not seen before. */
  outOfOrder: number;
}

/** The verdict of the end-of-run checks. */
export interface LedgerVerdict {
  sends: number;
  acked: number;
  abandoned: number;
  retriedSends: number;
  /** Acknowledged messages not in the log, or in it with another id or seq. */
  lostAcks: string[];
  /** Acknowledged messages in the log more than once. */
  duplicatedAcks: string[];
  /** client_message_ids (acknowledged or not) that produced more than one message. */
  duplicateClientIds: string[];
  /** Retries whose acknowledgement named another message than the first acknowledgement. */
  conflictingAcks: number;
  /** Conversations whose seqs are not exactly 1..N. */
  seqGaps: { conversationId: string; detail: string }[];
  subscribers: SubscriberVerdict[];
}

export interface SubscriberVerdict {
  name: string;
  expected: number;
  delivered: number;
  missing: number;
  /** Deliveries beyond the first of each seq. */
  duplicates: number;
  /** duplicates / delivered. */
  duplicateRatio: number;
  outOfOrder: number;
  /** Up to 20 missing events as `conversation:seq`, for the report. */
  missingSample: string[];
}

/** A seqs array as `1..N` check: the first problem found, or undefined when dense. */
export function seqProblem(seqs: bigint[]): string | undefined {
  for (let i = 0; i < seqs.length; i++) {
    if (seqs[i] !== BigInt(i + 1)) return `position ${i} holds seq ${seqs[i]}, expected ${i + 1} (of ${seqs.length})`;
  }
  return undefined;
}

/**
 * Checks the ledger against the logs: every acknowledged message in its conversation's log exactly
 * once with the acknowledged id and seq; each log dense from 1; no client_message_id twice; every
 * subscriber has every event of its conversations (after dedupe by seq).
 */
export function checkLedger(
  sends: Iterable<SendRecord>,
  logs: Map<string, LoggedEvent[]>,
  subscribers: { name: string; conversations: string[]; deliveries: Map<string, Deliveries> }[],
): LedgerVerdict {
  const all = [...sends];
  const verdict: LedgerVerdict = {
    sends: all.length,
    acked: all.filter((s) => s.ack).length,
    abandoned: all.filter((s) => s.abandoned).length,
    retriedSends: all.filter((s) => s.attempts > 1).length,
    lostAcks: [],
    duplicatedAcks: [],
    duplicateClientIds: [],
    conflictingAcks: all.reduce((n, s) => n + s.conflictingAcks, 0),
    seqGaps: [],
    subscribers: [],
  };
  const byClientId = new Map<string, { messageId: string; seq: bigint }[]>();
  for (const [conversationId, events] of logs) {
    const problem = seqProblem(events.map((e) => e.seq));
    if (problem) verdict.seqGaps.push({ conversationId, detail: problem });
    for (const e of events) {
      if (!e.message) continue;
      const key = `${conversationId} ${e.message.senderId} ${e.message.clientMessageId}`;
      const list = byClientId.get(key) ?? [];
      list.push({ messageId: e.message.id, seq: e.seq });
      byClientId.set(key, list);
    }
  }
  for (const [key, list] of byClientId) if (list.length > 1) verdict.duplicateClientIds.push(key);
  for (const s of all) {
    if (!s.ack) continue;
    const found = byClientId.get(`${s.conversationId} ${s.senderId} ${s.clientMessageId}`) ?? [];
    const matching = found.filter((m) => m.messageId === s.ack!.messageId && m.seq === s.ack!.seq);
    if (matching.length === 0) verdict.lostAcks.push(`${s.clientMessageId} (ack seq ${s.ack.seq})`);
    else if (found.length > 1) verdict.duplicatedAcks.push(s.clientMessageId);
  }
  for (const sub of subscribers) {
    const v: SubscriberVerdict = { name: sub.name, expected: 0, delivered: 0, missing: 0, duplicates: 0, duplicateRatio: 0, outOfOrder: 0, missingSample: [] };
    for (const conversationId of sub.conversations) {
      const events = logs.get(conversationId) ?? [];
      const got = sub.deliveries.get(conversationId) ?? { seqs: [], outOfOrder: 0 };
      const seen = new Set(got.seqs);
      v.expected += events.length;
      v.delivered += got.seqs.length;
      v.duplicates += got.seqs.length - seen.size;
      v.outOfOrder += got.outOfOrder;
      for (const e of events) {
        if (seen.has(e.seq)) continue;
        v.missing++;
        if (v.missingSample.length < 20) v.missingSample.push(`${conversationId}:${e.seq}`);
      }
    }
    v.duplicateRatio = v.delivered === 0 ? 0 : Number((v.duplicates / v.delivered).toFixed(4));
    verdict.subscribers.push(v);
  }
  return verdict;
}

/** Nearest-rank quantile of `values` (NaN for none). */
export function quantile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}
