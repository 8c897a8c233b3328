import { Code, ConnectError } from "@connectrpc/connect";
import { MessageKeysInternalService } from "@caas/gen/caas/chat/v1/message_keys_internal_service_pb.js";
import { createPeerClient, type PeerDirectory } from "../clients.js";
import { createPeerServiceTokenSource } from "../auth/service-tokens.js";
import type { Clock } from "../clock.js";
import type { EventBus } from "../bus/event-bus.js";
import { UnavailableError } from "../errors.js";
import type { DataKeySource } from "./chat-event-sealing.js";
import { openingChatEvents } from "./opening-bus.js";
import type { DataKey } from "./sealed-box.js";

/** How long a process keeps a data key it fetched: a key destroyed by crypto-shredding stops opening here at most this long after. */
export const FETCHED_KEY_TTL_MS = 60_000;

/**
 * Data keys asked of chat (MessageKeysInternalService.GetDataKey with this service's token, over
 * the mesh), cached in memory for {@link FETCHED_KEY_TTL_MS}. NOT_FOUND (destroyed) is the
 * answer `undefined`, cached as briefly; other errors reject, so the consumer's record is retried.
 */
export function createDataKeyClient(opts: { service: string; peers: PeerDirectory; serviceSecret: string; clock: Clock }): DataKeySource {
  const chat = createPeerClient(MessageKeysInternalService, "chat", opts.peers, { defaultTimeoutMs: 10_000 });
  const tokens = createPeerServiceTokenSource({ service: opts.service, root: opts.serviceSecret, peers: opts.peers, clock: opts.clock });
  const cache = new Map<string, { key: Promise<DataKey | undefined>; untilMs: number }>();
  return {
    key(tenantId, keyId) {
      const name = `${tenantId}|${keyId}`;
      const now = opts.clock.nowMs();
      const hit = cache.get(name);
      if (hit && hit.untilMs > now) return hit.key;
      const key = (async () => {
        try {
          const res = await chat.getDataKey({ tenantId, keyId }, { headers: { authorization: `Bearer ${await tokens.token("chat")}` } });
          return { id: res.keyId, bytes: res.key };
        } catch (err) {
          if (ConnectError.from(err).code === Code.NotFound) return undefined;
          cache.delete(name);
          throw err;
        }
      })();
      cache.set(name, { key, untilMs: now + FETCHED_KEY_TTL_MS });
      if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
      return key;
    },
  };
}

/**
 * The bus of a service that consumes chat events from outside chat (socket, search, compliance):
 * chat events opened with data keys asked of chat with the service's own token. Without a
 * service secret the service cannot ask, and sealed records fail (the bus retries them) with an
 * error saying why.
 */
export function chatEventsOpenedOverMesh(ctx: { bus: EventBus; peers: PeerDirectory; clock: Clock; serviceSecret?: string | undefined }, service: string): EventBus {
  const keys: DataKeySource = ctx.serviceSecret
    ? createDataKeyClient({ service, peers: ctx.peers, serviceSecret: ctx.serviceSecret, clock: ctx.clock })
    : { key: () => Promise.reject(new UnavailableError(`the ${service} service has no service secret (CAAS_SERVICE_SECRET) to ask chat for message data keys`)) };
  return openingChatEvents(ctx.bus, keys);
}
