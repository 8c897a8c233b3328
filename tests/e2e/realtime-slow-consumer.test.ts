import { once } from "node:events";
import { readFileSync } from "node:fs";
import type net from "node:net";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { ClientFrameSchema, ServerFrameSchema } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { spawnEmbeddedPlatform, type SpawnedPlatform } from "../support/spawn-platform.js";
import { bearer, tenantWithUsers, wsConnection } from "./realtime-clients.js";

/*
 * A WebSocket client that stops reading: the server holds at most CAAS_WS_MAX_BUFFERED_BYTES of
 * unsent bytes for it (plus what the kernel buffers), then closes it as a slow consumer, while a
 * reading client of the same user keeps getting everything. Both on the socket service's own /ws
 * and through the gateway's relay, for events pushed to it and for pongs to a ping flood.
 */
const MAX_BUFFERED = 64 * 1024;
const MESSAGES = 2_000;
const TEXT = "x".repeat(3_900);
/**
 * What a client that never reads may still get: the bound plus what the kernel buffers on the
 * way (Linux grows a socket's send buffer up to tcp_wmem's 4 MiB even when the peer does not read;
 * 4 MB measured), well under the ~8 MB sent.
 */
const BOUND = 6 * 1024 * 1024;

let platform: SpawnedPlatform;
let urls: Record<string, string>;
let world: Awaited<ReturnType<typeof tenantWithUsers>>;
let conversationId: string;

beforeAll(async () => {
  platform = await spawnEmbeddedPlatform({ CAAS_WS_MAX_BUFFERED_BYTES: String(MAX_BUFFERED), CAAS_RATE_LIMITS: "message.send=100000/s", CAAS_INSTANCE_ID: "slow-consumer" });
  urls = platform.info.endpoints;
  const admin = readFileSync(join(platform.info.dataDir, "admin-credential"), "utf8").trim();
  world = await tenantWithUsers(urls.auth!, admin, ["ann", "bob"], "slow-consumer");
  const chat = createClient(ChatService, createGrpcTransport({ baseUrl: urls.chat!, interceptors: [bearer(world.token("ann"))] }));
  conversationId = (await chat.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
}, 120_000);

afterAll(async () => {
  expect(await platform?.stop()).toBe(0);
});

/** Bob's WebSocket at `base`, authenticated, then its socket paused: the client reads nothing more. */
async function stalledClient(base: string): Promise<{ ws: WebSocket; socket: net.Socket }> {
  const ws = new WebSocket(`${base.replace(/^http/, "ws")}/ws`);
  ws.on("error", () => {});
  await once(ws, "open");
  ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { id: 1n, frame: { case: "auth", value: { accessToken: world.token("bob") } } })));
  const [data] = (await once(ws, "message")) as [Buffer];
  expect(fromBinary(ServerFrameSchema, data).frame.case).toBe("authOk");
  const socket = (ws as unknown as { _socket: net.Socket })._socket;
  socket.pause();
  return { ws, socket };
}

/** Resumes reading and counts every byte until the server's end of the connection. */
async function drainUntilClosed(socket: net.Socket, ms: number): Promise<number> {
  let bytes = 0;
  socket.removeAllListeners("data");
  socket.on("data", (c: Buffer) => (bytes += c.length));
  socket.on("error", () => {});
  const closed = socket.destroyed ? Promise.resolve() : once(socket, "close");
  socket.resume();
  await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error(`still open ${ms} ms after the flood`)), ms))]);
  return bytes;
}

describe.each([
  ["the socket service's /ws", "socket"],
  ["the gateway's /ws relay", "gateway"],
])("a WebSocket client that never reads, on %s", (_label, service) => {
  it("is closed as a slow consumer once its unsent events pass the bound; a reading client gets every message", async () => {
    const base = urls[service]!;
    const slow = await stalledClient(base);
    const reader = await wsConnection(base, "reader");
    expect((await reader.call({ id: 1n, frame: { case: "auth", value: { accessToken: world.token("bob") } } })).frame.case).toBe("authOk");
    const chat = createClient(ChatService, createGrpcTransport({ baseUrl: urls.chat!, interceptors: [bearer(world.token("ann"))] }));
    const tag = `${service}-${Date.now()}`;
    for (let i = 0; i < MESSAGES; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, k) => chat.sendMessage({ conversationId, clientMessageId: `${tag}-${i + k}`, text: `${tag} ${i + k} ${TEXT}` })));
    }
    const last = `${tag} ${MESSAGES - 1} `;
    await reader.waitFor(
      (f) => f.frame.case === "event" && f.frame.value.payload.case === "messageCreated" && (f.frame.value.payload.value.message?.text ?? "").startsWith(last),
      60_000,
      "the last message",
    );
    expect(reader.closed).toBeUndefined();
    // Closed by the server (it stops waiting for the close handshake after 5 s); it got a bounded part of the ~5 MB sent.
    const got = await drainUntilClosed(slow.socket, 15_000);
    expect(got).toBeLessThan(BOUND);
    expect(got).toBeLessThan(MESSAGES * TEXT.length);
    reader.close();
  }, 180_000);

  // ws (8.23) itself cuts a connection with more than 60 automatic pongs not yet handed to the kernel (maxPendingAutoPongs).
  it("is cut off when it floods pings and never reads the pongs", async () => {
    const slow = await stalledClient(urls[service]!);
    const payload = Buffer.alloc(125, 0x70);

    // About 5 MB of pongs if the server answered every ping.
    for (let i = 0; i < 40_000 && slow.ws.readyState === WebSocket.OPEN; i++) {
      slow.ws.ping(payload);
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
    }
    const got = await drainUntilClosed(slow.socket, 15_000);
    expect(got).toBeLessThan(BOUND);
    const healthy = await fetch(`${urls.gateway}/health`);
    expect(healthy.status).toBe(200);
  }, 120_000);
});
