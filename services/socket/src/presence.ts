import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { PresenceSchema, PresenceStatus, type Presence as PresenceFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { scopeFromVerifiedClaims, type TenantScope } from "@caas/shared/tenant-scope";
import type { Logger } from "@caas/shared/logger";
import type { Presence, UserPresence } from "./ports/presence.js";
import type { PubSub, PubSubUnsubscribe } from "./ports/pubsub.js";

/** The tenant pub/sub channel on which instances announce that a user's presence may have changed. */
export const PRESENCE_CHANNEL = "realtime:presence";

/** A local session as presence sees it. */
export interface PresenceHolder {
  readonly id: string;
  readonly tenantId: string;
  readonly userId: string;
  /** Pushes a Presence frame of a followed user. */
  deliverPresence(presence: PresenceFrame): void;
}

/** What the tracker uses. */
export interface PresenceTrackerDeps {
  presence: Presence;
  pubsub: PubSub;
  logger: Logger;
  /** This instance, kept with each connection. */
  instanceId: string;
  /** A connection stays online this long after its last heartbeat. */
  ttlMs: number;
}

interface Follow {
  holder: PresenceHolder;
  /** The last status pushed per followed user, to push changes only. */
  last: Map<string, string>;
}

const scopeOf = (tenantId: string): TenantScope => scopeFromVerifiedClaims({ tenant: tenantId });
const fkey = (tenantId: string, userId: string) => `${tenantId}\u0000${userId}`;

/** The Presence frame for a port answer. */
export function presenceFrame(p: UserPresence): PresenceFrame {
  return create(PresenceSchema, {
    userId: p.userId,
    status: p.online ? PresenceStatus.ONLINE : PresenceStatus.OFFLINE,
    lastSeenTime: !p.online && p.lastSeenMs !== null ? timestampFromMs(p.lastSeenMs) : undefined,
  });
}

const statusKey = (p: PresenceFrame) => `${p.status}:${p.lastSeenTime ? `${p.lastSeenTime.seconds}.${p.lastSeenTime.nanos}` : ""}`;

/**
 * Online, offline and last seen across a user's devices and tabs: every authenticated session is
 * a connection in the Presence port (memory in embedded, Redis in cluster), refreshed by
 * heartbeats and removed when it ends. Each change is announced on the tenant's presence channel;
 * every instance re-reads the user's aggregate and pushes it to the local sessions following them
 * when it differs from what each last got.
 */
export class PresenceTracker {
  private readonly tenants = new Map<string, { sessions: number; unsubscribe: Promise<PubSubUnsubscribe> }>();
  /** followed user -> sessions following them. */
  private readonly followers = new Map<string, Set<Follow>>();
  private readonly follows = new Map<string, { follow: Follow; users: string[] }>();

  constructor(private readonly deps: PresenceTrackerDeps) {}

  /** Registers the session's connection and announces it; subscribes the tenant's channel. */
  async online(h: PresenceHolder): Promise<void> {
    let entry = this.tenants.get(h.tenantId);
    if (!entry) {
      entry = { sessions: 0, unsubscribe: this.deps.pubsub.subscribe(scopeOf(h.tenantId), PRESENCE_CHANNEL, (b) => void this.changed(h.tenantId, new TextDecoder().decode(b))) };
      this.tenants.set(h.tenantId, entry);
    }
    entry.sessions++;
    await entry.unsubscribe;
    await this.deps.presence.add(scopeOf(h.tenantId), h.userId, h.id, this.deps.ttlMs, { instance: this.deps.instanceId });
    await this.announce(h.tenantId, h.userId);
  }

  /**
   * Takes one of the user's `max` connection places for `h`, cluster-wide and atomically: the
   * connection is registered in the Presence port only if the user has fewer than `max` others
   * alive (on any instance sharing the port), so concurrent connects admit exactly the room left.
   * Nothing is announced yet (`online` does that once the session is open). False when full.
   */
  async reserve(h: PresenceHolder, max: number): Promise<boolean> {
    return this.deps.presence.addBounded(scopeOf(h.tenantId), h.userId, h.id, this.deps.ttlMs, { instance: this.deps.instanceId }, max);
  }

  /** Gives back a place `reserve` took for a session that never went `online`. */
  async release(h: PresenceHolder): Promise<void> {
    await this.deps.presence.remove(scopeOf(h.tenantId), h.userId, h.id);
  }

  /** Heartbeat: keeps the connection alive (re-adding it if it had expired). */
  async touch(h: PresenceHolder): Promise<void> {
    const alive = await this.deps.presence.touch(scopeOf(h.tenantId), h.userId, h.id, this.deps.ttlMs);
    if (alive) return;
    await this.deps.presence.add(scopeOf(h.tenantId), h.userId, h.id, this.deps.ttlMs, { instance: this.deps.instanceId });
    await this.announce(h.tenantId, h.userId);
  }

  /** The session ended: its connection goes, its follows go, the change is announced. */
  async offline(h: PresenceHolder): Promise<void> {
    await this.follow(h, []);
    try {
      await this.deps.presence.remove(scopeOf(h.tenantId), h.userId, h.id);
      await this.announce(h.tenantId, h.userId);
    } finally {
      const entry = this.tenants.get(h.tenantId);
      if (entry && --entry.sessions <= 0) {
        this.tenants.delete(h.tenantId);
        entry.unsubscribe.then((u) => u()).catch((err: unknown) => this.deps.logger.warn({ err }, "presence unsubscribe failed"));
      }
    }
  }

  /** Replaces the users `h` follows (already filtered to those it may see); returns their presence now. */
  async follow(h: PresenceHolder, userIds: string[]): Promise<PresenceFrame[]> {
    const old = this.follows.get(h.id);
    if (old) for (const u of old.users) this.followers.get(fkey(h.tenantId, u))?.delete(old.follow);
    this.follows.delete(h.id);
    if (userIds.length === 0) return [];
    const follow: Follow = { holder: h, last: new Map() };
    this.follows.set(h.id, { follow, users: userIds });
    for (const u of userIds) {
      const k = fkey(h.tenantId, u);
      let set = this.followers.get(k);
      if (!set) this.followers.set(k, (set = new Set()));
      set.add(follow);
    }
    const all = await this.deps.presence.get(scopeOf(h.tenantId), userIds);
    return all.map((p) => {
      const frame = presenceFrame(p);
      follow.last.set(p.userId, statusKey(frame));
      return frame;
    });
  }

  private async announce(tenantId: string, userId: string): Promise<void> {
    await this.deps.pubsub.publish(scopeOf(tenantId), PRESENCE_CHANNEL, new TextEncoder().encode(userId));
  }

  private async changed(tenantId: string, userId: string): Promise<void> {
    const set = this.followers.get(fkey(tenantId, userId));
    if (!set || set.size === 0) return;
    try {
      const [p] = await this.deps.presence.get(scopeOf(tenantId), [userId]);
      const frame = presenceFrame(p!);
      const k = statusKey(frame);
      for (const f of set) {
        if (f.last.get(userId) === k) continue;
        f.last.set(userId, k);
        f.holder.deliverPresence(frame);
      }
    } catch (err) {
      this.deps.logger.warn({ err, userId }, "presence change could not be read");
    }
  }
}
