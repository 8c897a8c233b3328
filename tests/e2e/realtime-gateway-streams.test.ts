import { readFileSync } from "node:fs";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { ServerFrameSchema, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { RealtimeService } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { bearer, grpcConnection, grpcWebConnection, RealtimeConnection, tenantWithUsers } from "./realtime-clients.js";

const platform = inject("embedded");

/** A Connect-protocol Subscribe stream with JSON messages (HTTP/1.1, as a browser's fetch would), through `baseUrl`. */
function connectJsonConnection(baseUrl: string, token: string, label: string): RealtimeConnection {
  const rpc = createClient(RealtimeService, createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors: [bearer(token)] }));
  const abort = new AbortController();
  const conn = new RealtimeConnection(
    label,
    () => undefined,
    () => abort.abort(),
  );
  void (async () => {
    try {
      for await (const r of rpc.subscribe({}, { signal: abort.signal, timeoutMs: 0 })) if (r.frame) conn.receive(r.frame);
      conn.end("ended", "");
    } catch (err) {
      conn.end((err as { code?: number }).code ?? "error", String(err));
    }
  })();
  return conn;
}

/**
 * The realtime streams through the gateway, whose forwarder relays the socket service's stream
 * messages as bytes (ADR 0196): every client protocol receives the same pushed event, byte for
 * byte, as a client on the socket service's own port.
 */
describe("realtime streams through the gateway", () => {
  const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();

  it("delivers a pushed event to gRPC Connect (grpc-js), gRPC-web and Connect JSON Subscribe clients as it is delivered on the socket's port", async () => {
    const t = await tenantWithUsers(platform.endpoints.auth!, adminCredential, ["ann", "ben"]);
    const gateway = platform.endpoints.gateway!;
    const chat = createClient(ChatService, createGrpcTransport({ baseUrl: platform.endpoints.chat!, interceptors: [bearer(t.token("ann"))] }));
    const { conversation } = await chat.createConversation({ type: ConversationType.DIRECT, memberIds: ["ben"] });
    const receivers = [
      grpcWebConnection(platform.endpoints.socket!, t.token("ben"), "socket-port grpc-web"),
      grpcConnection(gateway, t.token("ben"), "gateway grpc-js Connect"),
      grpcWebConnection(gateway, t.token("ben"), "gateway grpc-web"),
      connectJsonConnection(gateway, t.token("ben"), "gateway connect-json"),
    ];
    for (const r of receivers) await r.waitFor((f) => f.frame.case === "authOk", 10_000, `AuthOk on ${r.label}`);
    const ack = await chat.sendMessage({ conversationId: conversation!.id, clientMessageId: "via-gateway-1", text: "héllo through the edge" });
    const isOurs = (f: ServerFrame) => f.frame.case === "event" && f.frame.value.seq === ack.seq && f.frame.value.conversationId === conversation!.id;
    const got = await Promise.all(receivers.map((r) => r.waitFor(isOurs, 10_000, `the event on ${r.label}`)));
    const reference = toBinary(ServerFrameSchema, got[0]!);
    for (const [i, frame] of got.entries()) {
      expect(frame.replyTo, receivers[i]!.label).toBe(0n);
      expect(toBinary(ServerFrameSchema, create(ServerFrameSchema, frame)), receivers[i]!.label).toEqual(reference);
    }
    for (const r of receivers) r.close();
  });

  it("delivers a burst of events, several per write, to grpc-js and gRPC-web clients on the socket's port and through the gateway, each once and in order", async () => {
    const senders = ["ann", "cid", "dan", "eve"];
    const t = await tenantWithUsers(platform.endpoints.auth!, adminCredential, ["ben", ...senders]);
    const gateway = platform.endpoints.gateway!;
    const chatOf = (user: string) => createClient(ChatService, createGrpcTransport({ baseUrl: platform.endpoints.chat!, interceptors: [bearer(t.token(user))] }));
    const { conversation } = await chatOf("ann").createConversation({ type: ConversationType.GROUP, memberIds: ["ben", ...senders.slice(1)] });
    const receivers = [
      grpcConnection(platform.endpoints.socket!, t.token("ben"), "socket-port grpc-js Connect"),
      grpcWebConnection(platform.endpoints.socket!, t.token("ben"), "socket-port grpc-web"),
      grpcConnection(gateway, t.token("ben"), "gateway grpc-js Connect"),
      grpcWebConnection(gateway, t.token("ben"), "gateway grpc-web"),
    ];
    for (const r of receivers) await r.waitFor((f) => f.frame.case === "authOk", 10_000, `AuthOk on ${r.label}`);
    // 15 sends from each of four members at once (under each user's send rate and chat's bound
    // on concurrent sends): the events fan out together, several in one flush per stream.
    const acks = (
      await Promise.all(
        senders.map((u) => Promise.all(Array.from({ length: 15 }, (_, i) => chatOf(u).sendMessage({ conversationId: conversation!.id, clientMessageId: `burst-${u}-${i}`, text: `burst ${i}` })))),
      )
    ).flat();
    const last = acks.reduce((m, a) => (a.seq > m ? a.seq : m), 0n);
    for (const r of receivers) {
      await r.waitFor((f) => f.frame.case === "event" && f.frame.value.conversationId === conversation!.id && f.frame.value.seq === last, 10_000, `the last event on ${r.label}`);
      const seqs = r.frames.flatMap((f) =>
        f.frame.case === "event" && f.frame.value.conversationId === conversation!.id && f.frame.value.payload.case === "messageCreated" ? [f.frame.value.seq] : [],
      );
      expect(seqs, r.label).toEqual(acks.map((a) => a.seq).sort((a, b) => (a < b ? -1 : 1)));
      r.close();
    }
  });
});
