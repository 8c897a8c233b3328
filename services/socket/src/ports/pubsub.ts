import type { TenantScope } from "@caas/shared/tenant-scope";

/**
 * Called with each message of a channel. Delivery is asynchronous (never inside `publish`), one
 * message at a time per subscription. A handler that throws does not stop the subscription or
 * other handlers; the adapter reports the error to its `onHandlerError` option.
 */
export type PubSubHandler = (message: Uint8Array) => void;

/**
 * Ends one subscription. After it is *called* (before it resolves) the handler is never invoked
 * again. Idempotent: later calls resolve at once.
 */
export type PubSubUnsubscribe = () => Promise<void>;

/**
 * The platform-wide channels that are not tenant data. A closed list on purpose: a new one is
 * a reviewed change to this file, so the system variant cannot become a way around tenant
 * scoping. A message on these channels names the tenant(s) it concerns in its own payload.
 *  - `revocations`: sessions, users or tenants whose tokens must be refused (deny-set updates).
 *  - `tenant-status`: a tenant was suspended, reactivated or deleted.
 */
export const SYSTEM_CHANNELS = ["revocations", "tenant-status"] as const;
export type SystemChannel = (typeof SYSTEM_CHANNELS)[number];

/** A system channel from `SYSTEM_CHANNELS` (a cast can get another string past the type). */
export function checkSystemChannel(channel: SystemChannel): SystemChannel {
  if (!(SYSTEM_CHANNELS as readonly string[]).includes(channel)) {
    throw new RangeError(`unknown system channel ${JSON.stringify(channel)}`);
  }
  return channel;
}

/**
 * Best-effort broadcast between service instances (socket fan-out across instances).
 *
 * Guarantees, on every adapter:
 *  - At most once: a message reaches each subscription once or not at all (a subscriber that is
 *    disconnected, slow to subscribe or restarting misses it). Consumers that need every event
 *    read the event log (`Sync`); pub/sub is never the record of anything.
 *  - Order: messages published by one publisher instance on one channel, each after the
 *    previous `publish` resolved or without awaiting in between, reach every subscription in
 *    publish order. Nothing is promised across channels or across publishers.
 *  - A message published after `subscribe` resolved (on any instance) is delivered to it,
 *    barring the loss allowed above; one published before may or may not be.
 *  - Tenant channels are namespaced by `scope`: the same channel name under two tenants is two
 *    unrelated channels, and no tenant channel is ever a system channel.
 *
 * Channel names: 1-256 characters, opaque (e.g. `conv:<id>`, `user:<id>`). Messages are bytes,
 * copied at publish (mutating the array afterwards does not change what subscribers get).
 */
export interface PubSub {
  /** Sends `message` to every current subscription of the tenant's `channel`. No subscribers: dropped. */
  publish(scope: TenantScope, channel: string, message: Uint8Array): Promise<void>;

  /**
   * Calls `handler` with every later message of the tenant's `channel` until unsubscribed.
   * Resolves once the subscription is active. Each call is its own subscription (subscribing a
   * handler twice delivers every message twice).
   */
  subscribe(scope: TenantScope, channel: string, handler: PubSubHandler): Promise<PubSubUnsubscribe>;

  /** `publish` on a platform-wide system channel (same guarantees). */
  publishSystem(channel: SystemChannel, message: Uint8Array): Promise<void>;

  /** `subscribe` to a platform-wide system channel (same guarantees). */
  subscribeSystem(channel: SystemChannel, handler: PubSubHandler): Promise<PubSubUnsubscribe>;
}
