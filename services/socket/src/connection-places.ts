import type { Logger } from "@caas/shared/logger";
import type { PresenceHolder, PresenceTracker } from "./presence.js";

/**
 * A user's connection places on this instance alone, for sessions without a Presence port.
 * Check and take are one synchronous step, so connections of one user authenticating at once
 * cannot both take the last place.
 */
export class LocalConnectionSlots {
  private readonly held = new Map<string, number>();

  /** Takes a place of the user when fewer than `max` are held; false otherwise. */
  tryTake(tenantId: string, userId: string, max: number): boolean {
    const key = `${tenantId}\u0000${userId}`;
    const n = this.held.get(key) ?? 0;
    if (n >= max) return false;
    this.held.set(key, n + 1);
    return true;
  }

  /** Gives back a place taken with `tryTake`. */
  give(tenantId: string, userId: string): void {
    const key = `${tenantId}\u0000${userId}`;
    const n = (this.held.get(key) ?? 0) - 1;
    if (n > 0) this.held.set(key, n);
    else this.held.delete(key);
  }
}

/** Where a session holds one of its user's connection places: none, in the Presence port, or in this instance's slots. */
export type HeldPlace = "none" | "presence" | "local";

/** The refusal of a connection over the per-user bound. */
export interface PlaceRefusal {
  message: string;
  retryAfterMs: number;
}

/**
 * Connections per user, for one socket instance: the Presence port's bounded add across every
 * instance sharing it, else this instance's slots. Taking is atomic in either, so of N
 * connections of one user authenticating at once exactly the room left get in.
 */
export class ConnectionPlaces {
  private readonly slots = new LocalConnectionSlots();

  constructor(
    private readonly presence: PresenceTracker | undefined,
    private readonly logger: Logger,
  ) {}

  /**
   * Takes one of the user's `max` places for `holder`: the place held, or "refused" over the
   * bound. When the Presence port cannot count, the connection is admitted without a place.
   */
  async take(holder: PresenceHolder, max: number): Promise<HeldPlace | "refused"> {
    if (this.presence) {
      try {
        return (await this.presence.reserve(holder, max)) ? "presence" : "refused";
      } catch (err) {
        this.logger.warn({ err }, "connection count unavailable; admitting the connection");
        return "none";
      }
    }
    return this.slots.tryTake(holder.tenantId, holder.userId, max) ? "local" : "refused";
  }

  /** Gives back `place` held by `holder`; one that went online is removed by `offline` instead. */
  give(holder: PresenceHolder, place: HeldPlace, online: boolean): void {
    if (place === "local") this.slots.give(holder.tenantId, holder.userId);
    else if (place === "presence" && !online) {
      this.presence?.release(holder).catch((err: unknown) => this.logger.warn({ err }, "connection place not given back; it expires with its TTL"));
    }
  }
}

/** The FrameError and Closing wording for a user over `max` connections. */
export function tooManyConnections(max: number, retryAfterMs: number): PlaceRefusal {
  return { message: `the user already has ${max} open connections (at most ${max}): close unused ones`, retryAfterMs: Math.max(retryAfterMs, 5_000) };
}
