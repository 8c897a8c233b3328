import type { PubSub, PubSubHandler, PubSubUnsubscribe } from "../ports/pubsub.js";
import { checkName, tenantOf } from "@caas/shared/checks";
import { checkSystemChannel } from "../ports/pubsub.js";

export interface MemoryPubSubOptions {
  /** Called when a handler throws; the subscription continues. Default: `console.error`. */
  onHandlerError?: (err: unknown, channel: string) => void;
}

/**
 * The embedded-mode `PubSub`: subscriptions in a map, messages delivered on the microtask queue
 * (never inside `publish`, in publish order). Single process only: it connects the services of
 * one process, not instances on other machines. Nothing is lost while the process lives, which
 * is within the at-most-once contract.
 */
export function createMemoryPubSub(opts: MemoryPubSubOptions = {}): PubSub {
  const onHandlerError = opts.onHandlerError ?? ((err, channel) => console.error(`pub/sub handler on ${channel} threw`, err));
  // Internal channel names: "t NUL <tenant> NUL <channel>" or "s NUL <name>"; the NUL separators
  // and distinct tags keep tenants apart from each other and from the system channels.
  const subscriptions = new Map<string, Set<{ handler: PubSubHandler }>>();

  function publish(name: string, label: string, message: Uint8Array): void {
    const subs = subscriptions.get(name);
    if (!subs) return;
    const bytes = Uint8Array.from(message);
    for (const sub of subs) {
      queueMicrotask(() => {
        // Unsubscribed after publish but before delivery: the handler must not run any more.
        if (!subscriptions.get(name)?.has(sub)) return;
        try {
          // Each subscription gets its own copy, as it would from a network.
          sub.handler(Uint8Array.from(bytes));
        } catch (err) {
          onHandlerError(err, label);
        }
      });
    }
  }

  function subscribe(name: string, handler: PubSubHandler): PubSubUnsubscribe {
    const sub = { handler };
    let subs = subscriptions.get(name);
    if (!subs) subscriptions.set(name, (subs = new Set()));
    subs.add(sub);
    return async () => {
      const current = subscriptions.get(name);
      if (!current?.delete(sub)) return;
      if (current.size === 0) subscriptions.delete(name);
    };
  }

  const tenantChannel = (tenantId: string, channel: string) => `t\u0000${tenantId}\u0000${checkName("channel", channel, 256)}`;

  return {
    async publish(scope, channel, message) {
      publish(tenantChannel(tenantOf(scope), channel), channel, message);
    },
    async subscribe(scope, channel, handler) {
      return subscribe(tenantChannel(tenantOf(scope), channel), handler);
    },
    async publishSystem(channel, message) {
      publish(`s\u0000${checkSystemChannel(channel)}`, channel, message);
    },
    async subscribeSystem(channel, handler) {
      return subscribe(`s\u0000${checkSystemChannel(channel)}`, handler);
    },
  };
}
