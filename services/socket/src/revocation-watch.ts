import { RevocationSet, startRevocationFeed } from "@caas/shared/identity/revocations";
import type { ServiceContext } from "@caas/shared/service-runtime";
import type { Subscription } from "@caas/shared/eventing/bus";
import type { SessionRegistry } from "./sessions.js";

/** The deny-set the socket service checks and watches, and how to stop watching. */
export interface RevocationWatch {
  /** The process deny-set (or the socket's own, in a context without one): checked at Auth and ReAuth. */
  readonly revocations: RevocationSet;
  /** Starts closing revoked sessions; with a deny-set of its own, starts its feed too. */
  start(registry: SessionRegistry): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Closes open sessions with REVOKED as soon as an auth event revokes their session, user, tenant
 * or signing key (DESIGN.md: within 2 s). It reads no topic of its own: it listens to the
 * process deny-set (`RevocationSet.onRevoked`), which the composition root keeps current from
 * `caas.auth.events.v1` in the process's one consumer group for auth events, and closes every
 * session the set (which already holds the event's entries) now denies. Sessions opened later are
 * checked against the same set when they authenticate. A context without a deny-set (a hand-built
 * one) gets a set and feed of the socket's own: still one subscription per process.
 */
export function createRevocationWatch(ctx: Pick<ServiceContext, "bus" | "clock" | "logger" | "config" | "revocations">): RevocationWatch {
  const own = ctx.revocations === undefined;
  const revocations = ctx.revocations ?? new RevocationSet(ctx.clock);
  let feed: Subscription | undefined;
  let unlisten: (() => void) | undefined;
  return {
    revocations,
    async start(registry) {
      unlisten = revocations.onRevoked((entries) => {
        const closed = registry.closeRevoked(revocations);
        if (closed > 0) ctx.logger.info({ closed, kinds: entries.map((e) => e.kind) }, "revoked sessions closed");
      });
      if (own) feed = await startRevocationFeed({ bus: ctx.bus, set: revocations, group: `revocations.socket.${ctx.config.instanceId}`, logger: ctx.logger });
    },
    async stop() {
      unlisten?.();
      unlisten = undefined;
      await feed?.close();
      feed = undefined;
    },
  };
}
