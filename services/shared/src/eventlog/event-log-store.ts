import { Code, ConnectError } from "@connectrpc/connect";
import type { TenantScope } from "../tenant-scope.js";

/**
 * One committed entry of a conversation's event log. `body` is the serialized
 * caas.chat.v1.Event; the other fields are what the store indexes and what the relay and the
 * consumers need without decoding the body.
 */
export interface LogEvent {
  tenantId: string;
  conversationId: string;
  /** Dense, strictly increasing per conversation, starting at 1. */
  seq: number;
  /** UUIDv7, unique across the platform. */
  eventId: string;
  /** Who caused the event ("" for the platform). */
  actorId: string;
  /** Idempotency key for sends; events without one store a unique placeholder ("~" + eventId). */
  clientMessageId: string;
  /** Hash of the request that produced the event; a retry with another payload is a conflict. */
  payloadHash: string;
  /** True for events that count towards unread (new messages). */
  countable: boolean;
  /** Number of countable events in the conversation up to and including this one. */
  countableSeq: number;
  body: Uint8Array;
  createTimeMs: number;
  /** The body was redacted in place (delete for everyone, erasure, retention). */
  redacted: boolean;
}

/** What a writer supplies; the store assigns seq, countableSeq and the commit time. */
export interface AppendInput {
  conversationId: string;
  eventId: string;
  actorId: string;
  /** Omitted for events that are not idempotent sends. */
  clientMessageId?: string;
  payloadHash: string;
  countable: boolean;
  /**
   * A head the caller saw committed (the conversation projection's), for a store that keeps no
   * head of its own for the conversation yet: where to look first. Never trusted: a store checks
   * it against the log (one point read) and ignores one that does not match.
   */
  headHint?: LogHead;
  /** Builds the body once the seq is known (it is called again if the insert must retry). */
  encode(assigned: { seq: number; countableSeq: number; createTimeMs: number }): Uint8Array;
  /**
   * The caller's cancellation: an append whose signal has aborted when its turn comes (behind
   * the appends queued before it), or by the time its insert is about to be sent (after the
   * head reads), is not committed and rejects with `abandonedAppend`. Once the insert has
   * started it completes whatever the signal does.
   */
  signal?: AbortSignal;
}

/**
 * The error of an append abandoned because its caller went away: DEADLINE_EXCEEDED when the
 * caller's deadline passed, CANCELED otherwise. Nothing was committed, so a retry with the same
 * idempotency key commits it once.
 */
export function abandonedAppend(signal: AbortSignal): ConnectError {
  const reason: unknown = signal.reason;
  const code = reason instanceof ConnectError && reason.code === Code.DeadlineExceeded ? Code.DeadlineExceeded : Code.Canceled;
  return new ConnectError("the caller went away before the event was committed; nothing was written", code);
}

export type AppendResult =
  /**
   * This call committed the event. `stored`: the event as the store holds it, when a decorator
   * gives the caller another form (a body sealed at rest, opened for the caller): what an outbox
   * relay handed the commit publishes.
   */
  | { kind: "appended"; event: LogEvent; stored?: LogEvent }
  /** An event with the same (actor, clientMessageId) was committed before: it is returned as is. */
  | { kind: "duplicate"; event: LogEvent };

/** The most inputs one `appendBatch` (or entries one `redactBatch`) takes. */
export const MAX_APPEND_BATCH = 1000;

/** Where a conversation's log stands. */
export interface LogHead {
  seq: number;
  countableSeq: number;
}

/** Identifies one event for outbox bookkeeping. */
export interface EventKey {
  tenantId: string;
  conversationId: string;
  seq: number;
}

/**
 * The conversation event log: the store of record for everything that happens in a conversation.
 *
 * Commit point: `append` is ONE insert of the event document. Unique indexes on
 * (tenant, conversation, seq) and (tenant, conversation, actor, clientMessageId) make concurrent
 * writers safe without transactions: a writer reads the head, inserts head+1, and on a duplicate
 * seq reads the head again and retries. Only a successful insert claims a seq, so seqs are dense.
 * Several processes may append to one conversation at once.
 *
 * Every event is born unpublished; the outbox relay publishes it to the bus and marks it.
 */
export interface EventLogStore {
  /**
   * Commits the next event of a conversation. Idempotent per (actor, clientMessageId): a second
   * call returns `duplicate` with the original event (the caller compares `payloadHash`).
   * Resolves only once the insert is durable (SQLite commit; MongoDB write concern majority).
   */
  append(scope: TenantScope, input: AppendInput): Promise<AppendResult>;

  /**
   * Commits several events of ONE conversation, in order, as `append` would one after the other
   * (each idempotent per (actor, clientMessageId); results in input order), in fewer round trips:
   * the platform's bulk paths (erasure, retention) delete a page of messages at once. At most
   * `MAX_APPEND_BATCH` inputs. When it rejects, part of the batch may be committed: a retry with
   * the same idempotency keys commits the rest and returns the committed ones as `duplicate`.
   */
  appendBatch(scope: TenantScope, inputs: AppendInput[]): Promise<AppendResult[]>;

  /** Events with seq > afterSeq in ascending seq order, at most `limit` (1..1000). */
  read(scope: TenantScope, conversationId: string, afterSeq: number, limit: number): Promise<LogEvent[]>;

  /**
   * The newest seq and countable count of a conversation; {0, 0} for an empty one. `hint`: a head
   * the caller saw committed (the conversation projection's), where a store that keeps no head of
   * its own may start looking; never trusted (see AppendInput.headHint).
   */
  head(scope: TenantScope, conversationId: string, hint?: LogHead): Promise<LogHead>;

  /** The event committed for (actor, clientMessageId), if any. */
  findByClientMessageId(scope: TenantScope, conversationId: string, actorId: string, clientMessageId: string): Promise<LogEvent | undefined>;

  /**
   * Replaces an event's body in place and flags it redacted (delete for everyone, erasure,
   * retention). Seq, ids and counters are kept, so Sync still returns the event, redacted.
   * NOT_FOUND (NotFoundError) when the event does not exist in this tenant.
   */
  redact(scope: TenantScope, conversationId: string, seq: number, body: Uint8Array): Promise<void>;

  /**
   * `redact` for several events of one conversation (at most `MAX_APPEND_BATCH`) in one write.
   * NOT_FOUND when any of them does not exist in this tenant (the others are redacted).
   */
  redactBatch(scope: TenantScope, conversationId: string, entries: { seq: number; body: Uint8Array }[]): Promise<void>;

  /**
   * A tenant's whole log, ordered by (conversation id, seq), at most `limit` (1..1000) entries
   * after `after` (from the start when omitted); bodies as stored. For jobs that rewrite every
   * entry (re-encryption under a new key).
   */
  scanTenant(scope: TenantScope, after: { conversationId: string; seq: number } | undefined, limit: number): Promise<LogEvent[]>;

  /**
   * Replaces an entry's body with an equivalent one (the same Event sealed under another key),
   * keeping every other field, unless its redacted flag is no longer `expectRedacted` (a
   * redaction since the entry was read wins). False when nothing was replaced.
   */
  rewriteBody(scope: TenantScope, conversationId: string, seq: number, body: Uint8Array, expectRedacted: boolean): Promise<boolean>;

  /**
   * Outbox, for the relay only (a platform process, hence across tenants): up to `limit`
   * unpublished events committed at or before `committedBeforeMs`, ordered by (tenant,
   * conversation, seq) so each conversation's events go out in seq order.
   */
  unpublished(limit: number, committedBeforeMs: number): Promise<LogEvent[]>;

  /** Marks events as published. Idempotent; unknown keys are ignored. */
  markPublished(keys: EventKey[]): Promise<void>;

  close(): Promise<void>;
}
