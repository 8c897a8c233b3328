import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { AuthEventEnvelope } from "@caas/gen/caas/events/v1/auth_events_pb.js";
import type { EventBus, Subscription } from "../bus/event-bus.js";
import { AUTH_EVENTS } from "../bus/topics.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import { ACCESS_TOKEN_MAX_LIFETIME_SEC } from "./jwt-verifier.js";

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

/**
 * The deny-set a verifier keeps in memory: revoked sessions, users, tenants and signing keys,
 * each until no token it matches can still be unexpired. A token matches when its `iat` is at or
 * before the revocation (whole seconds, so a token issued in the same second as a revocation is
 * denied too). Adding an entry twice keeps the later revocation. Single process.
 */
export class RevocationSet implements RevocationChecker {
  private readonly entries = new Map<string, RevocationEntry>();
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
    return (
      hit("session", t.tenantId, t.sessionId) || hit("user", t.tenantId, t.userId) || hit("tenant", t.tenantId, "") || hit("signing-key", "", t.kid)
    );
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
 * Keeps a deny-set current from `caas.auth.events.v1`. The group starts at the earliest retained
 * record, so a verifier that starts (or restarts) catches up on revocations whose tokens may
 * still be alive; entries already expired are skipped. Unknown payload cases are ignored.
 */
export async function startRevocationFeed(opts: RevocationFeedOptions): Promise<Subscription> {
  return opts.bus.subscribe(AUTH_EVENTS, { group: opts.group, from: "earliest" }, async (record) => {
    for (const e of revocationsOf(record.value)) {
      opts.set.add(e);
      opts.logger.debug({ kind: e.kind, tenantId: e.tenantId, subjectId: e.subjectId }, "revocation received");
    }
  });
}
