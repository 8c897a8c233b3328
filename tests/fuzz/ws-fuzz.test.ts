import { fromBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerFrameSchema } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "@caas/gen/grpc/health/v1/health_pb.js";
import { spawnEmbeddedPlatform, type SpawnedPlatform } from "../support/spawn-platform.js";
import { makeCredentials } from "./credentials.js";
import { platformPid, rssMiB } from "./process-memory.js";
import { Rng } from "./proto-cases.js";
import { clientFrame, WsCaseBuilder, type WsCase } from "./ws-cases.js";
import { RawWs, wsFrame } from "./ws-raw.js";

/** Cases per run and the seed (CAAS_WS_FUZZ_CASES / CAAS_WS_FUZZ_SEED replay or lengthen a run). */
const CASES = Number(process.env.CAAS_WS_FUZZ_CASES ?? 400);
const SEED = Number(process.env.CAAS_WS_FUZZ_SEED ?? 20261207);
const CONCURRENCY = 8;
/** How long a case's connection is watched for the server's answer once the input is written. */
const CASE_MS = 500;
const MEMORY_SLACK_MIB = 256;
/** The platform's default AuthOk.max_frame_bytes (CAAS_WS_MAX_PAYLOAD). */
const MAX_FRAME_BYTES = 64 * 1024;

/**
 * Close codes a bad connection may get: RFC 6455 protocol error, invalid data, policy, message
 * too big; and frame.proto's 4000 + CloseCode for the session's own refusals. Not 1011 / 4012
 * (internal error), 4009 (shutdown) or none at all.
 */
const ALLOWED_CLOSE = new Set([1000, 1002, 1007, 1008, 1009, 4001, 4002, 4003, 4004, 4005, 4006, 4007, 4008, 4010, 4011]);

interface Result {
  index: number;
  kind: string;
  authFirst: boolean;
  endpoint: string;
  closeCode?: number;
  replied: boolean;
  ended?: boolean;
  why?: string;
}

/** Runs one case on a new connection to `endpoint`. */
async function runCase(endpoint: string, token: string, c: WsCase): Promise<Omit<Result, "index" | "endpoint">> {
  const ws = await RawWs.open(endpoint);
  const base = { kind: c.kind, authFirst: c.authFirst };
  try {
    if (ws.outcome.refused || ws.outcome.ended) return { ...base, replied: false, why: `upgrade: ${ws.outcome.refused ?? "connection ended"}` };
    if (c.authFirst) {
      ws.write(wsFrame(0x2, clientFrame({ case: "auth", value: { accessToken: token } })));
      const ok = await ws.until(() => ws.outcome.messages.length > 0 || ws.outcome.ended, 10_000);
      const first = ws.outcome.messages[0];
      if (!ok || !first || fromBinary(ServerFrameSchema, first).frame.case !== "authOk") return { ...base, replied: false, why: "no AuthOk for a valid token" };
    }
    const before = ws.outcome.messages.length;
    ws.write(c.bytes);
    if (c.expectReply) {
      const replied = await ws.until(() => ws.outcome.messages.length > before || ws.outcome.ended, 10_000);
      const ok = replied && ws.outcome.messages.length > before;
      return { ...base, replied: ok, closeCode: ws.outcome.closeCode, why: ok ? undefined : `valid input not answered (close ${ws.outcome.closeCode ?? "none"})` };
    }
    await ws.until(() => ws.outcome.closeCode !== undefined || ws.outcome.ended, CASE_MS);
    // Give a close frame that is on its way a moment to arrive with the end of the connection.
    if (ws.outcome.ended && ws.outcome.closeCode === undefined) await ws.until(() => ws.outcome.closeCode !== undefined, 50);
    const code = ws.outcome.closeCode;
    let why: string | undefined;
    if (code !== undefined && !ALLOWED_CLOSE.has(code) && c.kind !== "close-frame") why = `close code ${code}`;
    // A ping flood is the one input ws answers by cutting the connection without a close frame.
    else if (code === undefined && ws.outcome.ended && c.kind !== "ping-flood") why = "connection ended without a close frame";
    return { ...base, replied: ws.outcome.messages.length > before, closeCode: code, ended: ws.outcome.ended, why };
  } finally {
    ws.destroy();
  }
}

describe("WebSocket frame fuzzer against the socket service and the gateway's /ws relay", () => {
  let platform: SpawnedPlatform;
  beforeAll(async () => {
    platform = await spawnEmbeddedPlatform({ CAAS_INSTANCE_ID: "ws-fuzz" });
  }, 120_000);
  afterAll(async () => {
    expect(await platform.stop()).toBe(0);
  });

  it(`survives ${CASES} seeded hostile connections: proper close codes, valid input still answered, other connections unaffected, health SERVING, memory bounded`, async () => {
    const { endpoints, dataDir } = platform.info;
    const creds = await makeCredentials(endpoints, dataDir);
    const wsEndpoints = [endpoints.socket!, endpoints.gateway!];
    const pid = platformPid(dataDir);
    const baseline = rssMiB(pid);
    let peak = baseline;

    // A well-behaved connection open through the whole run.
    const bystander = await RawWs.open(endpoints.gateway!);
    bystander.write(wsFrame(0x2, clientFrame({ case: "auth", value: { accessToken: creds.user } })));
    expect(await bystander.until(() => bystander.outcome.messages.length === 1, 10_000)).toBe(true);

    const rng = new Rng(SEED);
    const builder = new WsCaseBuilder(rng, creds.user, MAX_FRAME_BYTES);
    const results: Result[] = [];
    let next = 0;
    const started = Date.now();
    async function worker(): Promise<void> {
      while (next < CASES) {
        const index = next++;
        const endpoint = wsEndpoints[rng.int(wsEndpoints.length)]!;
        const c = builder.build();
        results.push({ index, endpoint: endpoint === endpoints.socket ? "socket" : "gateway", ...(await runCase(endpoint, creds.user, c)) });
        if (index % 50 === 0) peak = Math.max(peak, rssMiB(pid));
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
    const tookMs = Date.now() - started;

    // The bystander was not disturbed: still open and answering.
    const before = bystander.outcome.messages.length;
    bystander.write(wsFrame(0x2, clientFrame({ case: "ping", value: { nonce: 7n } })));
    expect(await bystander.until(() => bystander.outcome.messages.length > before, 10_000)).toBe(true);
    expect(fromBinary(ServerFrameSchema, bystander.outcome.messages.at(-1)!).frame.case).toBe("pong");
    expect(bystander.outcome.ended).toBe(false);
    bystander.destroy();

    for (const [name, baseUrl] of Object.entries(endpoints)) {
      const res = await createClient(Health, createGrpcTransport({ baseUrl })).check({ service: "" });
      expect(res.status, `${name} health`).toBe(Serving.SERVING);
    }
    let after = rssMiB(pid);
    for (let i = 0; i < 40 && after > baseline + MEMORY_SLACK_MIB; i++) {
      await new Promise((r) => setTimeout(r, 500));
      after = rssMiB(pid);
    }
    const byKind: Record<string, Record<string, number>> = {};
    for (const r of results) {
      const k = (byKind[r.kind] ??= {});
      const key = r.why ? "FAIL" : r.closeCode !== undefined ? `close ${r.closeCode}` : r.replied ? "answered" : r.ended ? "cut" : "open";
      k[key] = (k[key] ?? 0) + 1;
    }
    console.log(JSON.stringify({ seed: SEED, cases: CASES, tookMs, byKind, rssMiB: { baseline: Math.round(baseline), peak: Math.round(peak), after: Math.round(after) } }));
    expect(results.filter((r) => r.why).slice(0, 10)).toEqual([]);
    expect(results).toHaveLength(CASES);
    expect(after).toBeLessThan(baseline + MEMORY_SLACK_MIB);
  }, 300_000);
});
