import { timestampMs } from "@bufbuild/protobuf/wkt";
import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { RevocationKind as ProtoKind, type Revocation } from "@caas/gen/caas/auth/v1/revocation_pb.js";
import type { AuthEventEnvelope } from "@caas/gen/caas/events/v1/auth_events_pb.js";
import { createPeerClient, type PeerDirectory } from "../clients.js";
import type { EventBus, Subscription } from "../bus/event-bus.js";
import { AUTH_EVENTS } from "../bus/topics.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import { ACCESS_TOKEN_MAX_LIFETIME_SEC } from "./jwt-verifier.js";
import { createPeerServiceTokenSource } from "./service-tokens.js";

/** What a deny-set entry denies (caas.auth.v1.RevocationKind, without API keys: auth checks those in its store). */
export type RevocationKind = "session" | "user" | "tenant" | "signing-key";

/** One deny-set entry: tokens of `tenantId` + `subjectId` issued at or before `revokeTimeMs`. */
export interface RevocationEntry {
  kind: RevocationKind;
  /** Empty for "signing-key". */
  tenantId: string;
  /** Session id, user id or kid; empty for "tenant". */
  subjectId: string;
  revokeTimeMs: number;
  /** After this no unexpired token can match. */
  expireTimeMs: number;
}

/** What of a verified access token the deny-set looks at. */
export interface TokenFacts {
  tenantId: string;
  userId: string;
  sessionId: string;
  kid: string;
  /** `iat`, seconds. */
  issuedAtSec: number;
}

/** Answers whether a verified access token was revoked since it was issued. */
export interface RevocationChecker {
  denies(token: TokenFacts): boolean;
}

/**
 * An entry outlives every token it can match: the longest token lifetime plus the verifiers'
 * clock tolerance after the revocation.
 */
export const REVOCATION_TTL_MS = (ACCESS_TOKEN_MAX_LIFETIME_SEC + 30) * 1000;

/** Told the entries of each revoking auth event once the set holds them (RevocationSet.onRevoked). */
export type RevocationListener = (entries: readonly RevocationEntry[]) => void;

/**
 * The deny-set a verifier keeps in memory: revoked sessions, users, tenants and signing keys,
 * each until no token it matches can still be unexpired. A token matches when its `iat` is at or
 * before the revocation (whole seconds, so a token issued in the same second as a revocation is
 * denied too). Adding an entry twice keeps the later revocation. Single process.
 *
 * The set is also the process's one reader of revocations as they happen: whoever must act on
 * one (the socket service closing revoked sessions) listens here (`onRevoked`) instead of
 * subscribing to the auth events topic a second time.
 */
export class RevocationSet implements RevocationChecker {
  private readonly entries = new Map<string, RevocationEntry>();
  private readonly listeners = new Set<RevocationListener>();
  private lastSweepMs = 0;

  constructor(private readonly clock: Clock) {}

  /** Adds (or widens) an entry; entries already expired are ignored. */
  add(entry: RevocationEntry): void {
    const now = this.clock.nowMs();
    this.sweep(now);
    if (entry.expireTimeMs <= now) return;
    const key = keyOf(entry.kind, entry.tenantId, entry.subjectId);
    const old = this.entries.get(key);
    if (!old || old.revokeTimeMs < entry.revokeTimeMs) this.entries.set(key, entry);
  }

  denies(t: TokenFacts): boolean {
    if (this.entries.size === 0) return false;
    const issuedMs = t.issuedAtSec * 1000;
    const now = this.clock.nowMs();
    const hit = (kind: RevocationKind, tenantId: string, subjectId: string) => {
      const e = this.entries.get(keyOf(kind, tenantId, subjectId));
      return e !== undefined && e.expireTimeMs > now && issuedMs <= e.revokeTimeMs;
    };
    return hit("session", t.tenantId, t.sessionId) || hit("user", t.tenantId, t.userId) || hit("tenant", t.tenantId, "") || hit("signing-key", "", t.kid);
  }

  /**
   * Adds the entries of one revoking event (the feed calls it per auth event), then tells every
   * listener, after the set holds them: a listener checking tokens against the set sees them.
   * A listener that throws is reported through `onListenerError` and does not stop the others.
   */
  addRevoked(entries: readonly RevocationEntry[], onListenerError?: (err: unknown) => void): void {
    if (entries.length === 0) return;
    for (const e of entries) this.add(e);
    for (const listener of [...this.listeners]) {
      try {
        listener(entries);
      } catch (err) {
        onListenerError?.(err);
      }
    }
  }

  /**
   * Calls `listener` with the entries of every revoking auth event the feed adds from now on
   * (the replay of older records at start included; entries loaded from ListRevocations are not
   * announced). Returns the function that stops it.
   */
  onRevoked(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Entries held now (expired ones may linger until the next sweep). */
  get size(): number {
    return this.entries.size;
  }

  private sweep(now: number): void {
    if (now - this.lastSweepMs < 10_000) return;
    this.lastSweepMs = now;
    for (const [k, e] of this.entries) if (e.expireTimeMs <= now) this.entries.delete(k);
  }
}

function keyOf(kind: RevocationKind, tenantId: string, subjectId: string): string {
  return `${kind}\u0000${tenantId}\u0000${subjectId}`;
}

/**
 * The deny-set entries an auth event carries (none for events that revoke nothing). The revoke
 * time is the envelope's create_time.
 */
export function revocationsOf(env: AuthEventEnvelope): RevocationEntry[] {
  if (!env.createTime) return [];
  const revokeTimeMs = timestampMs(env.createTime);
  const entry = (kind: RevocationKind, tenantId: string, subjectId: string): RevocationEntry => ({
    kind,
    tenantId,
    subjectId,
    revokeTimeMs,
    expireTimeMs: revokeTimeMs + REVOCATION_TTL_MS,
  });
  const p = env.payload;
  switch (p.case) {
    case "sessionRevoked":
      return [entry("session", env.tenantId, p.value.sessionId)];
    case "userDeactivated":
    case "userDeleted":
      return [entry("user", env.tenantId, p.value.userId)];
    case "tenantSuspended":
      return [entry("tenant", env.tenantId, "")];
    case "signingKeyRotated":
      return p.value.revokedKids.map((kid) => entry("signing-key", "", kid));
    default:
      return [];
  }
}

/** Where the deny-set feed reads from. */
export interface RevocationFeedOptions {
  bus: EventBus;
  set: RevocationSet;
  /** A consumer group of this instance's own: every verifier must see every record. */
  group: string;
  logger: Logger;
}

/**
 * Keeps a deny-set current from `caas.auth.events.v1`: the process's one subscription to the
 * topic for revocations (the set's `onRevoked` listeners act on each revoking event). The group
 * starts at the earliest retained record, so a verifier that starts (or restarts) catches up on
 * revocations whose tokens may still be alive; entries already expired are skipped. Unknown
 * payload cases are ignored.
 */
export async function startRevocationFeed(opts: RevocationFeedOptions): Promise<Subscription> {
  return opts.bus.subscribe(AUTH_EVENTS, { group: opts.group, from: "earliest" }, async (record) => {
    const entries = revocationsOf(record.value);
    for (const e of entries) opts.logger.debug({ kind: e.kind, tenantId: e.tenantId, subjectId: e.subjectId }, "revocation received");
    opts.set.addRevoked(entries, (err) => opts.logger.warn({ err }, "a revocation listener failed"));
  });
}

/** One page of caas.auth.v1.AuthInternalService/ListRevocations. */
export interface RevocationPage {
  revocations: Revocation[];
  nextCursor: string;
  hasMore: boolean;
}

const KINDS: Partial<Record<ProtoKind, RevocationKind>> = {
  [ProtoKind.SESSION]: "session",
  [ProtoKind.USER]: "user",
  [ProtoKind.TENANT]: "tenant",
  [ProtoKind.SIGNING_KEY]: "signing-key",
};

/** A listed revocation as a deny-set entry; undefined for kinds verifiers do not hold (API keys). */
export function revocationFromProto(r: Revocation): RevocationEntry | undefined {
  const kind = KINDS[r.kind];
  if (!kind || !r.revokeTime || !r.expireTime) return undefined;
  return { kind, tenantId: r.tenantId, subjectId: r.subjectId, revokeTimeMs: timestampMs(r.revokeTime), expireTimeMs: timestampMs(r.expireTime) };
}

/**
 * Loads the revocations still in force into `set`, page by page from `page` (ListRevocations or
 * auth's own store), so a verifier that starts late refuses a revoked session's token from its
 * first call, before the auth events topic has been replayed. Returns how many entries it added.
 */
export async function loadRevocations(opts: { set: RevocationSet; page: (cursor: string) => Promise<RevocationPage>; logger: Logger }): Promise<number> {
  let cursor = "";
  let added = 0;
  for (;;) {
    const page = await opts.page(cursor);
    for (const r of page.revocations) {
      const e = revocationFromProto(r);
      if (e) {
        opts.set.add(e);
        added++;
      }
    }
    if (!page.hasMore || page.nextCursor === cursor) break;
    cursor = page.nextCursor;
  }
  opts.logger.info({ entries: added }, "revocations loaded");
  return added;
}

/**
 * The ListRevocations pages of the auth service, called with a service token of `service`
 * (derived from the service-secret root): what `loadRevocations` reads in a process without
 * auth's store.
 */
export function revocationPagesFromAuth(opts: { service: string; root: string; peers: PeerDirectory; clock: Clock }): (cursor: string) => Promise<RevocationPage> {
  const tokens = createPeerServiceTokenSource(opts);
  const client = createPeerClient(AuthInternalService, "auth", opts.peers);
  return async (cursor) => client.listRevocations({ cursor }, { headers: { authorization: `Bearer ${await tokens.token("auth")}` } });
}

/**
 * At a verifier's start: `loadRevocations` from auth's ListRevocations, retried while auth itself
 * is still starting (every `retryDelayMs`, `attempts` times). Gives up with a warning rather than
 * not starting: the auth events feed, replayed from its earliest record, still fills the set.
 */
export async function loadRevocationsFromAuth(opts: {
  set: RevocationSet;
  service: string;
  root: string;
  peers: PeerDirectory;
  clock: Clock;
  logger: Logger;
  attempts?: number;
  retryDelayMs?: number;
}): Promise<void> {
  const page = revocationPagesFromAuth(opts);
  const attempts = opts.attempts ?? 10;
  for (let i = 1; ; i++) {
    try {
      await loadRevocations({ set: opts.set, page, logger: opts.logger });
      return;
    } catch (err) {
      if (i >= attempts) {
        opts.logger.warn({ err }, "could not load revocations from auth; relying on the auth events feed");
        return;
      }
      await new Promise((r) => setTimeout(r, opts.retryDelayMs ?? 1_000));
    }
  }
}
