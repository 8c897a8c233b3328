import type { PubSub, PubSubHandler, PubSubUnsubscribe, SystemChannel } from "../ports/pubsub.js";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { checkName, tenantOf } from "@caas/shared/checks";
import { checkSystemChannel } from "../ports/pubsub.js";
import type { RedisClient, RedisSubscriber } from "@caas/shared/redis";

export interface RedisPubSubOptions {
  /** Publishes on this client (shared with other adapters; its owner closes it). */
  redis: RedisClient;
  /** Starts every channel name (Redis pub/sub channels are server-wide, not per database). */
  prefix: string;
  /** Called when a handler throws; the subscription continues. Default: `console.error`. */
  onHandlerError?: (err: unknown, channel: string) => void;
}

/** A `PubSub` that holds a subscriber connection: `close()` releases it. */
export interface RedisPubSub extends PubSub {
  /** Closes the subscriber connection; handlers are not called any more. Idempotent. */
  close(): Promise<void>;
}

interface Subscription {
  readonly handler: PubSubHandler;
}

/**
 * The cluster-mode `PubSub` on Redis PUBLISH/SUBSCRIBE. Channels: `<prefix>:ps:t:<tenantId>:<channel>`
 * for tenants (tenant ids contain no `:`) and `<prefix>:ps:sys:<name>` for system channels.
 * Subscriptions use a dedicated connection, opened on the first `subscribe`; each process
 * subscribes to a Redis channel once, however many local handlers it has. Redis pub/sub is
 * at-most-once: messages published while the subscriber connection is down are lost (ioredis
 * resubscribes on reconnect), which is the port's contract. One Redis server (or a cluster,
 * where PUBLISH is broadcast to all nodes).
 */
export function createRedisPubSub(opts: RedisPubSubOptions): RedisPubSub {
  const { redis } = opts;
  const prefix = checkName("redis prefix", opts.prefix, 128);
  const onHandlerError = opts.onHandlerError ?? ((err, channel) => console.error(`pub/sub handler on ${channel} threw`, err));
  const subscriptions = new Map<string, Set<Subscription>>();
  // The SUBSCRIBE each Redis channel is waiting for: later local subscribers await the same one.
  const subscribed = new Map<string, Promise<void>>();
  let subscriber: RedisSubscriber | undefined;
  let closed = false;

  function connection(): RedisSubscriber {
    if (subscriber) return subscriber;
    const conn = redis.createSubscriber();
    conn.onMessage((name, message) => {
      const subs = subscriptions.get(name);
      if (!subs) return;
      for (const sub of [...subs]) {
        // A handler may unsubscribe another one of the same channel while we are dispatching.
        if (!subs.has(sub)) continue;
        try {
          // Every subscription gets its own copy: one handler cannot alter what the next one sees.
          sub.handler(Uint8Array.from(message));
        } catch (err) {
          onHandlerError(err, name);
        }
      }
    });
    return (subscriber = conn);
  }

  async function subscribe(name: string, handler: PubSubHandler): Promise<PubSubUnsubscribe> {
    if (closed) throw new Error("pub/sub is closed");
    const sub: Subscription = { handler };
    let subs = subscriptions.get(name);
    if (!subs) {
      subscriptions.set(name, (subs = new Set()));
      subscribed.set(name, connection().subscribe(name));
    }
    subs.add(sub);
    const ready = subscribed.get(name);

    let done = false;
    const unsubscribe: PubSubUnsubscribe = async () => {
      if (done) return;
      done = true;
      const current = subscriptions.get(name);
      if (!current?.delete(sub) || current.size > 0) return;
      subscriptions.delete(name);
      subscribed.delete(name);
      // Commands on one connection run in order, so a SUBSCRIBE sent after this UNSUBSCRIBE
      // (a new local subscriber) still leaves the channel subscribed.
      if (!closed) await connection().unsubscribe(name);
    };
    try {
      await ready;
    } catch (err) {
      await unsubscribe().catch(() => undefined);
      throw err;
    }
    return unsubscribe;
  }

  const tenantChannel = (scope: TenantScope, channel: string) => `${prefix}:ps:t:${tenantOf(scope)}:${checkName("channel", channel, 256)}`;
  const systemChannel = (channel: SystemChannel) => `${prefix}:ps:sys:${checkSystemChannel(channel)}`;

  return {
    async publish(scope, channel, message) {
      await redis.publish(tenantChannel(scope, channel), message);
    },
    async subscribe(scope, channel, handler) {
      return subscribe(tenantChannel(scope, channel), handler);
    },
    async publishSystem(channel, message) {
      await redis.publish(systemChannel(channel), message);
    },
    async subscribeSystem(channel, handler) {
      return subscribe(systemChannel(channel), handler);
    },
    async close() {
      if (closed) return;
      closed = true;
      subscriptions.clear();
      subscribed.clear();
      await subscriber?.close();
    },
  };
}
