// The baseline of chat-send.bench.mjs: the physical floor of "authenticated RPC + durable insert"
// on this stack. A bare Connect handler for ChatService.SendMessage on the platform's one-port
// listener (DualListener, the same connect-node adapter) that checks the bearer token against a
// map (what a warm verified-token cache costs) and inserts one row shaped like an event log row
// (the request encoded as the body) into a WAL SQLite file per call, then acks. No membership,
// no projections, no bus. Prints the bound port.
//
// Usage: node send-baseline-server.mjs <data dir> [full|normal]   (tokens: one per stdin line, "token userId")
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ChatService, SendMessageRequestSchema, SendMessageResponseSchema } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { DualListener } from "@caas/shared/server/listener";
import { openSqliteDatabase } from "@caas/shared/sqlite";

const [dir, sync = "full"] = process.argv.slice(2);
const db = openSqliteDatabase(join(dir, "baseline.db"));
db.pragma(`synchronous = ${sync === "normal" ? "NORMAL" : "FULL"}`);
db.exec(`CREATE TABLE IF NOT EXISTS event_log (
  tenant_id TEXT NOT NULL, conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, event_id TEXT NOT NULL, actor_id TEXT NOT NULL,
  client_message_id TEXT NOT NULL, payload_hash TEXT NOT NULL, body BLOB NOT NULL, create_time_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, conversation_id, seq), UNIQUE (tenant_id, conversation_id, actor_id, client_message_id)) STRICT`);
const insert = db.prepare("INSERT INTO event_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");

const tokens = new Map();
let input = "";
for await (const chunk of process.stdin) input += chunk;
for (const line of input.split("\n").filter(Boolean)) {
  const [token, userId] = line.split(" ");
  tokens.set(token, userId);
}

let seq = 0;
const handler = connectNodeAdapter({
  routes: (r) =>
    r.service(ChatService, {
      sendMessage(req, ctx) {
        const userId = tokens.get((ctx.requestHeader.get("authorization") ?? "").slice("Bearer ".length));
        if (userId === undefined) throw new ConnectError("unknown token", Code.Unauthenticated);
        const now = Date.now();
        const body = toBinary(SendMessageRequestSchema, req);
        insert.run("bench", req.conversationId, ++seq, randomUUID(), userId, req.clientMessageId, "", body, now);
        return create(SendMessageResponseSchema, { messageId: randomUUID(), seq: BigInt(seq), createTime: timestampFromMs(now) });
      },
    }),
  readMaxBytes: 1 << 20,
});
const listener = new DualListener({ host: "127.0.0.1", port: 0, handler });
process.stdout.write(`${await listener.listen()}\n`);
