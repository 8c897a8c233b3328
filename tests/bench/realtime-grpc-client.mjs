// A realtime client on gRPC for the load process (realtime-load.mjs): a Subscribe server stream
// through the gateway, each on its own HTTP/2 connection (one connection per client, as separate
// devices would have), and the unary Send on the same connection for the client's own messages.
// It exposes the small part of a `ws` socket the load process uses (send, terminate), so the
// fan-out steps, the idle memory reading and the counters are the same code for both transports.
//
// The client speaks gRPC over node:http2 itself rather than through a generated client: like the
// WebSocket receivers, it counts pushed events from their first bytes without decoding them (the
// load process, one core for thousands of clients, must not be what limits the measured rate);
// it decodes only AuthOk, and events when latency is measured. The bytes are the gRPC protocol's
// (a 5-byte length prefix per message), so the server side is exactly what any gRPC client meets.
import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { SendRequestSchema, SubscribeResponseSchema } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";

const SERVICE = "/caas.realtime.v1.RealtimeService";

/** One gRPC message's bytes with its 5-byte prefix (uncompressed). */
function envelope(bytes) {
  const out = Buffer.allocUnsafe(5 + bytes.byteLength);
  out[0] = 0;
  out.writeUInt32BE(bytes.byteLength, 1);
  out.set(bytes, 5);
  return out;
}

/**
 * Whether a SubscribeResponse's bytes carry a pushed event: field 1 (frame, tag 0x0a), its length,
 * then the ServerFrame's first field. A pushed frame has reply_to 0, which is not encoded, so its
 * first field is the oneof case: `event` is field 13 (tag 0x6a).
 */
function isPushedEvent(msg) {
  if (msg[0] !== 0x0a) return false;
  let i = 1;
  while (i < msg.length && msg[i] & 0x80) i++;
  return msg[i + 1] === 0x6a;
}

/**
 * Opens `c.member`'s Subscribe stream at `url` (the gateway) and resolves once AuthOk arrived.
 * `onEvent(event)` is called for every pushed event (`this` is `c`), with the decoded Event only
 * while `c.latencies` is set (undefined otherwise); `c.acks` and `c.refused` count Send replies.
 */
export async function grpcConnection(url, c, onEvent) {
  const session = http2.connect(url);
  session.on("error", (err) => (c.closed ??= String(err?.message ?? err)));
  const auth = `Bearer ${c.member.token}`;
  const headers = (method, timeout) => ({
    ":method": "POST",
    ":path": `${SERVICE}/${method}`,
    "content-type": "application/grpc",
    te: "trailers",
    authorization: auth,
    ...(timeout ? { "grpc-timeout": timeout } : {}),
  });
  const stream = session.request(headers("Subscribe"));
  stream.end(envelope(new Uint8Array(0)));
  let connectionId = "";
  await new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let first = true;
    stream.on("data", (chunk) => {
      buf = buf.length > 0 ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 5) {
        const n = buf.readUInt32BE(1);
        if (buf.length < 5 + n) break;
        const msg = buf.subarray(5, 5 + n);
        buf = buf.subarray(5 + n);
        if (first) {
          first = false;
          const f = fromBinary(SubscribeResponseSchema, msg).frame;
          if (f?.frame.case !== "authOk") return reject(new Error(`auth failed: ${f?.frame.case ?? "no frame"}`));
          connectionId = f.frame.value.connectionId;
          resolve();
        } else if (isPushedEvent(msg)) {
          const f = c.latencies ? fromBinary(SubscribeResponseSchema, msg).frame : undefined;
          onEvent.call(c, f?.frame.case === "event" ? f.frame.value : undefined);
        }
      }
    });
    const ended = (why) => {
      c.closed ??= why;
      reject(new Error(`auth failed: ${why}`));
    };
    stream.on("trailers", (t) => ended(`stream ended: grpc-status ${t["grpc-status"]} ${t["grpc-message"] ?? ""}`));
    stream.on("response", (h) => h["grpc-status"] !== undefined && ended(`stream ended: grpc-status ${h["grpc-status"]} ${h["grpc-message"] ?? ""}`));
    stream.on("close", () => ended("stream ended"));
    stream.on("error", (err) => ended(String(err?.message ?? err)));
  });
  c.ws = {
    send(frame) {
      const req = session.request(headers("Send", "30S"));
      req.end(envelope(toBinary(SendRequestSchema, create(SendRequestSchema, { connectionId, frame: create(ClientFrameSchema, frame) }))));
      let status;
      req.on("response", (h) => (status ??= h["grpc-status"]));
      req.on("trailers", (t) => (status ??= t["grpc-status"]));
      req.on("data", () => undefined);
      req.on("error", () => undefined);
      req.on("close", () => (status === "0" ? c.acks++ : c.refused++));
    },
    terminate() {
      c.closed ??= "terminated";
      session.destroy();
    },
  };
  return c;
}

/** The text of a pushed event's message (where the load process reads its latency stamp). */
export const eventText = (e) => (e?.payload.case === "messageCreated" ? (e.payload.value.message?.text ?? "") : "");
