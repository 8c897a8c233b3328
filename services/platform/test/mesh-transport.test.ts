import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as S } from "@caas/gen/grpc/health/v1/health_pb.js";
import { createPeerClient } from "@caas/shared/clients";
import { loadConfig, SERVICE_NAMES } from "@caas/shared/config";
import { startEmbeddedPlatform, type EmbeddedPlatform } from "../src/platform.js";

let platform: EmbeddedPlatform | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await platform?.close();
  platform = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<EmbeddedPlatform> {
  const dataDir = mkdtempSync(join(tmpdir(), "caas-mesh-"));
  dirs.push(dataDir);
  const ports = Object.fromEntries(SERVICE_NAMES.map((s) => [`CAAS_${s.toUpperCase()}_PORT`, "0"]));
  const config = loadConfig({ CAAS_DATA_DIR: dataDir, CAAS_SHUTDOWN_GRACE_MS: "1000", CAAS_LOG_LEVEL: "error", ...ports, ...env });
  platform = await startEmbeddedPlatform({ config, logDestination: new Writable({ write: (_c, _e, cb) => cb() }) });
  return platform;
}

describe("the embedded platform's mesh transport", () => {
  it("calls every service in process by default, and over loopback HTTP/2 with CAAS_MESH_TRANSPORT=http2", async () => {
    const inProcess = await start({});
    for (const name of SERVICE_NAMES) expect(inProcess.peers.inProcess(inProcess.url(name)), name).toBeDefined();
    const viaPeers = createPeerClient(Health, "chat", inProcess.peers);
    expect((await viaPeers.check({ service: "" })).status).toBe(S.SERVING);
    await inProcess.close();
    platform = undefined;

    const loopback = await start({ CAAS_MESH_TRANSPORT: "http2" });
    for (const name of SERVICE_NAMES) expect(loopback.peers.inProcess(loopback.url(name)), name).toBeUndefined();
    expect((await createPeerClient(Health, "chat", loopback.peers).check({ service: "" })).status).toBe(S.SERVING);
  });

  it("refuses in-process calls to a platform that has stopped", async () => {
    const p = await start({});
    const client = p.peers.inProcess(p.url("search"));
    expect(client).toBeDefined();
    await p.close();
    platform = undefined;
    const search = createPeerClient(Health, "search", p.peers);
    await expect(search.check({ service: "" })).rejects.toThrow(/shutting down/);
  });
});
