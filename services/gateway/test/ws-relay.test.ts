import { once } from "node:events";
import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { createLogger } from "@caas/shared/logger";
import { PeerDirectory } from "@caas/shared/clients";
import { createOriginPolicy } from "../src/cors.js";
import { createWsRelay } from "../src/ws-relay.js";

const ALLOWED = "https://app.example.test";

/** A stand-in socket instance: a WebSocket echo server that remembers each upgrade's headers. */
async function echoInstance() {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, path: "/ws" });
  const upgrades: http.IncomingHttpHeaders[] = [];
  wss.on("connection", (ws, req) => {
    upgrades.push(req.headers);
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    upgrades,
    close: () =>
      new Promise<void>((r) => {
        wss.close();
        server.close(() => r());
      }),
  };
}

/** A port nothing listens on. */
async function deadUrl(): Promise<string> {
  const s = net.createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

/** A gateway stand-in: an HTTP server whose upgrades go to the relay. */
async function gateway(peers: PeerDirectory) {
  const relay = createWsRelay({ peers, origins: createOriginPolicy([ALLOWED]), logger: createLogger({ service: "gateway", instance: "t", level: "silent" }) });
  const server = http.createServer((_req, res) => res.end());
  server.on("upgrade", (req, socket, head) => relay.onUpgrade(req, socket, head));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  return {
    ws: `ws://127.0.0.1:${port}`,
    relay,
    close: () =>
      new Promise<void>((r) => {
        relay.close();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Opens a WebSocket; resolves with it once open, or rejects with the refusal. */
async function open(url: string, origin?: string): Promise<WebSocket> {
  const ws = new WebSocket(url, origin ? { origin } : {});
  await once(ws, "open");
  return ws;
}

async function echo(ws: WebSocket, payload: Buffer): Promise<Buffer> {
  ws.send(payload);
  const [data] = (await once(ws, "message")) as [Buffer];
  return data;
}

describe("the gateway's /ws relay", () => {
  let instance: Awaited<ReturnType<typeof echoInstance>>;
  beforeAll(async () => {
    instance = await echoInstance();
  });
  afterAll(() => instance.close());

  it("passes bytes both ways and tells the instance the client's address", async () => {
    const peers = new PeerDirectory();
    peers.set("socket", [instance.url]);
    const gw = await gateway(peers);
    const ws = await open(`${gw.ws}/ws`, ALLOWED);
    expect([...(await echo(ws, Buffer.from([1, 2, 3, 250])))]).toEqual([1, 2, 3, 250]);
    const big = Buffer.alloc(200_000, 7);
    expect((await echo(ws, big)).equals(big)).toBe(true);
    expect(instance.upgrades.at(-1)?.["x-forwarded-for"]).toBe("127.0.0.1");
    expect(instance.upgrades.at(-1)?.origin).toBe(ALLOWED);
    ws.close();
    await gw.close();
  });

  it("skips an unreachable instance, marks it, and uses the next", async () => {
    const dead = await deadUrl();
    const peers = new PeerDirectory();
    peers.set("socket", [dead, instance.url]);
    const gw = await gateway(peers);
    for (let i = 0; i < 2; i++) {
      const ws = await open(`${gw.ws}/ws`);
      expect([...(await echo(ws, Buffer.from([i])))]).toEqual([i]);
      ws.close();
    }
    expect(peers.available("socket")).toEqual([instance.url]);
    await gw.close();
  });

  it("answers 502 when no instance is reachable, 403 to an origin not on the list, 404 off /ws", async () => {
    const peers = new PeerDirectory();
    peers.set("socket", [await deadUrl()]);
    const gw = await gateway(peers);
    await expect(open(`${gw.ws}/ws`)).rejects.toThrow(/502/);
    peers.set("socket", [instance.url]);
    await expect(open(`${gw.ws}/ws`, "https://elsewhere.example.test")).rejects.toThrow(/403/);
    await expect(open(`${gw.ws}/chat`, ALLOWED)).rejects.toThrow(/404/);
    await gw.close();
  });

  it("admits a page the gateway serves itself (Origin equal to its own host) and still refuses a look-alike", async () => {
    const peers = new PeerDirectory();
    peers.set("socket", [instance.url]);
    const gw = await gateway(peers);
    const own = gw.ws.replace(/^ws:/, "http:");
    const ws = await open(`${gw.ws}/ws`, own);
    expect([...(await echo(ws, Buffer.from([9])))]).toEqual([9]);
    ws.close();
    await expect(open(`${gw.ws}/ws`, `${own}.evil.example.test`)).rejects.toThrow(/403/);
    await expect(open(`${gw.ws}/ws`, own.replace(/:\d+$/, ":1"))).rejects.toThrow(/403/);
    await gw.close();
  });

  it("cuts relayed connections when the gateway closes", async () => {
    const peers = new PeerDirectory();
    peers.set("socket", [instance.url]);
    const gw = await gateway(peers);
    const ws = await open(`${gw.ws}/ws`);
    const closed = once(ws, "close");
    await gw.close();
    const [code] = (await closed) as [number];
    expect(code).toBe(1006);
  });
});
