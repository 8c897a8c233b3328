#!/usr/bin/env node
// A minimal realtime client over WebSocket (binary protobuf frames at /ws), for trying CAAS by hand.
//
//   node services/socket/examples/ws-client.mjs <socket-url> <access-token> listen [seconds] [events]
//   node services/socket/examples/ws-client.mjs <socket-url> <access-token> send <conversation-id> <text>
//   node services/socket/examples/ws-client.mjs <socket-url> <access-token> resume [cursor]
//
// Prints one JSON line per server frame of interest. `listen` stops after `seconds` (30), or
// after `events` event frames when given. Needs `npm run build` (it imports gen/dist).
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import WebSocket from "ws";
import { ClientFrameSchema, ServerFrameSchema } from "@caas/gen/caas/realtime/v1/frame_pb.js";

const [url, token, command = "listen", ...args] = process.argv.slice(2);
if (!url || !token) {
  process.stderr.write("usage: ws-client.mjs <socket-url> <access-token> listen [seconds] [events] | send <conversation-id> <text> | resume [cursor]\n");
  process.exit(2);
}

const ws = new WebSocket(`${url.replace(/^http/, "ws")}/ws`);
const send = (frame) => ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, frame)));
const print = (obj) => process.stdout.write(`${JSON.stringify(obj, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`);

function describe(f) {
  const v = f.frame.value;
  switch (f.frame.case) {
    case "authOk":
      return { authOk: { userId: v.userId, connectionId: v.connectionId } };
    case "sendAck":
      return { sendAck: { messageId: v.messageId, seq: v.seq } };
    case "event":
      return {
        event: { conversationId: v.conversationId, seq: v.seq, actorId: v.actorId, kind: v.payload.case, text: v.payload.case === "messageCreated" ? v.payload.value.message?.text : undefined },
      };
    case "changes":
      return { changes: { conversationId: v.conversationId, seqs: v.events.map((e) => e.seq) } };
    case "resumeDone":
      return { resumeDone: { cursor: v.cursor } };
    case "error":
      return { error: { code: v.code, message: v.message } };
    case "closing":
      return { closing: { code: v.code, reason: v.reason } };
    default:
      return { [f.frame.case ?? "unknown"]: {} };
  }
}

ws.on("open", () => send({ id: 1n, frame: { case: "auth", value: { accessToken: token } } }));
ws.on("close", (code) => process.exit(code === 1000 || code === 1005 ? 0 : 1));
let events = 0;
ws.on("message", (data) => {
  const frame = fromBinary(ServerFrameSchema, data);
  print(describe(frame));
  if (command === "listen" && frame.frame.case === "event" && ++events === Number(args[1])) ws.close(1000);
  if (frame.frame.case === "authOk") {
    if (command === "send") send({ id: 2n, frame: { case: "send", value: { conversationId: args[0], clientMessageId: `cli-${Date.now()}`, text: args[1] ?? "" } } });
    else if (command === "resume") send({ id: 2n, frame: { case: "resume", value: { cursor: args[0] ?? "" } } });
    else setTimeout(() => ws.close(1000), Number(args[0] ?? 30) * 1000);
  } else if (frame.replyTo === 2n) {
    ws.close(1000);
  }
});
