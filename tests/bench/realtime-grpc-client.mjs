// A realtime client on gRPC for the load process (realtime-load.mjs): a Subscribe server stream
// through the gateway, each on its own HTTP/2 connection (one transport per client, as separate
// devices would have), and the unary Send beside it for the client's own messages. It exposes the
// small part of a `ws` socket the load process uses (send, terminate), so the fan-out steps, the
// idle memory reading and the counters are the same code for both transports.
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ClientFrameSchema } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { RealtimeService } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";

/**
 * Opens `c.member`'s Subscribe stream at `url` (the gateway) and resolves once AuthOk arrived.
 * `onEvent(event)` gets every pushed event (`this` is `c`); `c.acks` and `c.refused` count Send replies.
 */
export async function grpcConnection(url, c, onEvent) {
  const rpc = createClient(RealtimeService, createGrpcTransport({ baseUrl: url }));
  const headers = { authorization: `Bearer ${c.member.token}` };
  const abort = new AbortController();
  let connectionId = "";
  const stream = rpc.subscribe({}, { headers, signal: abort.signal, timeoutMs: 0 });
  const it = stream[Symbol.asyncIterator]();
  const first = await it.next();
  const f = first.value?.frame;
  if (f?.frame.case !== "authOk") throw new Error(`auth failed: ${f?.frame.case ?? "stream ended"}`);
  connectionId = f.frame.value.connectionId;
  (async () => {
    for (;;) {
      const { value, done } = await it.next();
      if (done) break;
      if (value.frame?.frame.case === "event") onEvent.call(c, value.frame.frame.value);
    }
  })()
    .catch((err) => (c.closed ??= String(err?.message ?? err)))
    .finally(() => (c.closed ??= "stream ended"));
  c.ws = {
    send(frame) {
      rpc.send({ connectionId, frame: create(ClientFrameSchema, frame) }, { headers, timeoutMs: 30_000 }).then(
        () => c.acks++,
        () => c.refused++,
      );
    },
    terminate() {
      c.closed ??= "terminated";
      abort.abort();
    },
  };
  return c;
}

/** The text of a pushed event's message (where the load process reads its latency stamp). */
export const eventText = (e) => (e.payload.case === "messageCreated" ? (e.payload.value.message?.text ?? "") : "");
