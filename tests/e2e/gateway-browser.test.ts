import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import WebSocket from "ws";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import type { ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { TEST_ALLOWED_ORIGIN } from "../support/spawn-platform.js";
import { bearer, tenantWithUsers, wsConnection, type RealtimeConnection } from "./realtime-clients.js";

const embedded = inject("embedded");
const cluster = inject("cluster");
const OTHER_ORIGIN = "http://evil.caas.test:8080";

let nextId = 1n;
const id = () => nextId++;
const isText = (conversationId: string, text: string) => (f: ServerFrame) =>
  f.frame.case === "event" && f.frame.value.conversationId === conversationId && f.frame.value.payload.case === "messageCreated" && f.frame.value.payload.value.message?.text === text;

/** A preflight as a browser sends it before a cross-origin Connect or gRPC-web POST. */
function preflight(gateway: string, origin: string, path = "/caas.chat.v1.ChatService/ListConversations") {
  return fetch(`${gateway}${path}`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization,connect-protocol-version,content-type,x-grpc-web,x-user-agent,x-correlation-id,grpc-timeout",
    },
  });
}

/** The browser-facing edge, run against one platform (embedded, or the cluster's gateway). */
function browserEdgeSuite(gateway: string, socket: string, adminCredential: () => string) {
  let t: Awaited<ReturnType<typeof tenantWithUsers>>;
  beforeAll(async () => {
    t = await tenantWithUsers(gateway, adminCredential(), ["ada", "bea"], "browser");
  });

  /** An authenticated /ws connection through the gateway. */
  async function wsAs(user: string, origin?: string): Promise<RealtimeConnection> {
    const c = await wsConnection(gateway, `${user}-ws`, { origin });
    const ok = await c.call({ id: id(), frame: { case: "auth", value: { accessToken: t.token(user) } } });
    expect(ok.frame.case, `${user} auth`).toBe("authOk");
    return c;
  }

  it("answers a preflight from an allowed origin with the methods and headers Connect and gRPC-web need", async () => {
    const res = await preflight(gateway, TEST_ALLOWED_ORIGIN);
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(TEST_ALLOWED_ORIGIN);
    expect(res.headers.get("vary")).toMatch(/origin/i);
    expect(res.headers.get("access-control-allow-methods")?.split(/, */)).toEqual(expect.arrayContaining(["POST", "GET"]));
    const allowed = res.headers.get("access-control-allow-headers")?.split(/, */) ?? [];
    for (const h of ["authorization", "connect-protocol-version", "content-type", "x-grpc-web", "x-user-agent", "x-correlation-id", "grpc-timeout"]) {
      expect(allowed, h).toContain(h);
    }
    expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(0);
  });

  it("gives a preflight from an origin not on the list no Access-Control-* header", async () => {
    const res = await preflight(gateway, OTHER_ORIGIN);
    expect(res.status).toBe(403);
    const cors = [...res.headers.keys()].filter((k) => k.startsWith("access-control-"));
    expect(cors).toEqual([]);
  });

  it("lets an allowed origin read a Connect unary answer and its exposed headers; another origin's answer stays unreadable", async () => {
    const call = (origin: string, token?: string) =>
      fetch(`${gateway}/caas.chat.v1.ChatService/ListConversations`, {
        method: "POST",
        headers: { origin, "content-type": "application/json", "connect-protocol-version": "1", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: "{}",
      });
    const ok = await call(TEST_ALLOWED_ORIGIN, t.token("ada"));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toBeTypeOf("object");
    expect(ok.headers.get("access-control-allow-origin")).toBe(TEST_ALLOWED_ORIGIN);
    const exposed = ok.headers.get("access-control-expose-headers")?.split(/, */) ?? [];
    expect(exposed).toEqual(expect.arrayContaining(["grpc-status", "grpc-message", "grpc-status-details-bin", "x-correlation-id"]));
    expect(ok.headers.get("x-correlation-id")).toMatch(/\S/);

    // An error answer carries the same headers, so the page can read the error.
    const denied = await call(TEST_ALLOWED_ORIGIN);
    expect(denied.status).toBe(401);
    expect(((await denied.json()) as { code: string }).code).toBe("unauthenticated");
    expect(denied.headers.get("access-control-allow-origin")).toBe(TEST_ALLOWED_ORIGIN);

    const other = await call(OTHER_ORIGIN, t.token("ada"));
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    expect(other.headers.get("access-control-expose-headers")).toBeNull();
  });

  it("serves gRPC-web text mode through the gateway to an allowed origin (Google's grpc-web client's default)", async () => {
    const body = Buffer.alloc(5); // one empty ListConversationsRequest
    const res = await fetch(`${gateway}/caas.chat.v1.ChatService/ListConversations`, {
      method: "POST",
      headers: { origin: TEST_ALLOWED_ORIGIN, "content-type": "application/grpc-web-text", "x-grpc-web": "1", authorization: `Bearer ${t.token("ada")}` },
      body: body.toString("base64"),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/grpc-web-text+proto");
    expect(res.headers.get("access-control-allow-origin")).toBe(TEST_ALLOWED_ORIGIN);
    const text = await res.text();
    const bytes = Buffer.concat((text.match(/[A-Za-z0-9+/]*={0,2}/g) ?? []).filter(Boolean).map((x) => Buffer.from(x, "base64")));
    // The last frame is the trailer (flag 0x80) with grpc-status 0.
    let at = 0;
    let trailer = "";
    while (at < bytes.length) {
      const len = bytes.readUInt32BE(at + 1);
      if (bytes[at]! & 0x80) trailer = bytes.subarray(at + 5, at + 5 + len).toString("latin1");
      at += 5 + len;
    }
    expect(trailer).toMatch(/grpc-status:\s*0/);
  });

  it("relays /ws: an allowed browser origin and a client without Origin authenticate, send, get the ack and the live event", async () => {
    const chat = createClient(ChatService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(t.token("ada"))] }));
    const { conversation } = await chat.createConversation({ type: ConversationType.DIRECT, memberIds: ["bea"] });
    const dm = conversation!.id;
    const ada = await wsAs("ada", TEST_ALLOWED_ORIGIN);
    const bea = await wsAs("bea");
    const reply = await ada.call({ id: id(), frame: { case: "send", value: { conversationId: dm, clientMessageId: "via-gateway-1", text: "through the gateway" } } });
    expect(reply.frame.case).toBe("sendAck");
    const ack = reply.frame.value as { seq: bigint; messageId: string };
    const seen = await bea.waitFor(isText(dm, "through the gateway"), 20_000, "the live event");
    expect(seen.frame.case === "event" && seen.frame.value.seq).toBe(ack.seq);
    // The sender's other direction works too: bea answers, ada sees it live.
    const back = await bea.call({ id: id(), frame: { case: "send", value: { conversationId: dm, clientMessageId: "via-gateway-2", text: "and back" } } });
    expect(back.frame.case).toBe("sendAck");
    await ada.waitFor(isText(dm, "and back"), 20_000, "the reply event");
    ada.close();
    bea.close();
  });

  it("refuses /ws to a browser origin not on the list, and answers 404 for other upgrade paths", async () => {
    await expect(wsConnection(gateway, "evil", { origin: OTHER_ORIGIN })).rejects.toThrow(/403/);
    const sock = new WebSocket(`${gateway.replace(/^http/, "ws")}/elsewhere`);
    const err = await new Promise<Error>((resolve) => sock.once("error", resolve));
    expect(err.message).toMatch(/404/);
  });

  it("applies the same Origin allowlist on the socket service's own /ws port", async () => {
    await expect(wsConnection(socket, "evil-direct", { origin: OTHER_ORIGIN })).rejects.toThrow(/403/);
    // A look-alike of the socket's own host is still another origin.
    await expect(wsConnection(socket, "evil-host", { origin: `${socket}.evil.test` })).rejects.toThrow(/403/);
    const listed = await wsConnection(socket, "listed-direct", { origin: TEST_ALLOWED_ORIGIN });
    const ok = await listed.call({ id: id(), frame: { case: "auth", value: { accessToken: t.token("ada") } } });
    expect(ok.frame.case).toBe("authOk");
    listed.close();
    const native = await wsConnection(socket, "no-origin-direct");
    const ok2 = await native.call({ id: id(), frame: { case: "auth", value: { accessToken: t.token("bea") } } });
    expect(ok2.frame.case).toBe("authOk");
    native.close();
  });
}

describe("the gateway for browsers, embedded: CORS allowlist and /ws", () => {
  browserEdgeSuite(embedded.endpoints.gateway!, embedded.endpoints.socket!, () => readFileSync(join(embedded.dataDir, "admin-credential"), "utf8").trim());
});

describe.skipIf(!cluster)("the gateway for browsers, cluster: CORS allowlist and /ws relayed to the socket instances", () => {
  browserEdgeSuite(cluster?.endpoints.gateway ?? "", cluster?.endpoints.socket ?? "", () => cluster!.adminToken);
});
