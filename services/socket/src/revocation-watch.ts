import {
  AUTH_EVENTS,
  RevocationSet,
  revocationsOf,
  type Clock,
  type EventBus,
  type Logger,
  type RevocationChecker,
  type Subscription,
} from "@caas/shared";
import type { SessionRegistry } from "./sessions.js";

/** What the revocation watch reads and acts on. */
export interface RevocationWatchOptions {
  bus: EventBus;
  /** A consumer group of this instance's own: every socket instance must see every record. */
  group: string;
  registry: SessionRegistry;
  /** The process's deny-set (ServiceContext.revocations), checked too on every revoking event. */
  revocations?: RevocationChecker;
  clock: Clock;
  logger: Logger;
}

/**
 * Closes open sessions with REVOKED as soon as an auth event revokes their session, user, tenant
 * or signing key (DESIGN.md: within 2 s). Reads `caas.auth.events.v1` from the newest record:
 * sessions opened later are checked against the deny-set when they authenticate. Each revoking
 * record is matched on its own entries (no wait for the process deny-set's feed) and then against
 * the whole deny-set.
 */
export async function startRevocationWatch(opts: RevocationWatchOptions): Promise<Subscription> {
  return opts.bus.subscribe(AUTH_EVENTS, { group: opts.group, from: "latest" }, async (record) => {
    const entries = revocationsOf(record.value);
    if (entries.length === 0) return;
    const these = new RevocationSet(opts.clock);
    for (const e of entries) these.add(e);
    const either: RevocationChecker = { denies: (t) => these.denies(t) || (opts.revocations?.denies(t) ?? false) };
    const closed = opts.registry.closeRevoked(either);
    if (closed > 0) opts.logger.info({ closed, kinds: entries.map((e) => e.kind) }, "revoked sessions closed");
  });
}
