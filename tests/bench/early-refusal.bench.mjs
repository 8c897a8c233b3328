// Benchmark: the gateway's CPU per call refused by its outstanding bound, through the RPC stack
// against before it (ADR 0211).
//
// A child process runs a service host as the gateway builds it (the standard interceptor chain, a
// forwarder of ChatService with the outstanding bound, the request log at info written to
// /dev/null) in front of a chat stand-in that holds every call; with a bound of one and one call
// held, every other SendMessage is refused. "stack" is the host without the early refusal (the
// gateway before ADR 0211), "early" with it as the listener's filter. The parent sends `calls`
// SendMessage calls, `inFlight` at a time, per protocol, and reports the child's CPU (user +
// system) per refusal. Client and server are separate processes.
//
// Usage: npm run build && node tests/bench/early-refusal.bench.mjs [calls=5000] [inFlight=16]
// (CAAS_BENCH_MODES=early runs one mode; CAAS_BENCH_NODE_ARGS passes node flags to the server.)
import { fork } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === "--serve") {
  const mode = process.argv[3];
  const http2 = await import("node:http2");
  const { connectNodeAdapter } = await import("@connectrpc/connect-node");
  const { ChatService } = await import("@caas/gen/caas/chat/v1/chat_service_pb.js");
  const { PeerDirectory } = await import("@caas/shared/clients");
  const { loadConfig } = await import("@caas/shared/config");
  const { createLogger } = await import("@caas/shared/logger");
  const { startServiceHost } = await import("@caas/shared/server/service-host");
  const { createForwarder, PUBLIC_SERVICES } = await import("../../services/gateway/dist/forwarding.js");
  const { OutstandingBound } = await import("../../services/gateway/dist/outstanding-bound.js");
  const { createEarlyRefusal } = await import("../../services/gateway/dist/early-refusal.js");
  const pino = (await import("pino")).default;

  const owner = http2.createServer(connectNodeAdapter({ routes: (r) => r.service(ChatService, { sendMessage: () => new Promise(() => {}) }) }));
  await new Promise((r) => owner.listen(0, "127.0.0.1", r));
  const peers = new PeerDirectory();
  peers.set("chat", [`http://127.0.0.1:${owner.address().port}`]);
  const bound = new OutstandingBound(1);
  const logger = createLogger({ service: "gateway", instance: "bench", level: "info" });
  const sink = pino({ level: "info" }, pino.destination({ dest: "/dev/null", sync: true }));
  const refuse = createEarlyRefusal({ bound, services: PUBLIC_SERVICES, logger: sink });
  const host = await startServiceHost({
    definition: {
      name: "gateway",
      services: [ChatService],
      forwardedServices: [ChatService.typeName],
      register: (router) => router.service(ChatService, createForwarder(ChatService, "chat", peers, undefined, bound)),
      ...(mode === "early" ? { httpFilter: refuse } : {}),
    },
    config: loadConfig({ CAAS_SHUTDOWN_GRACE_MS: "200" }),
    logger: logger.child({}, { level: "info" }),
    port: 0,
  });
  // The request log goes where a deployment sends it, not to this terminal.
  process.stdout.write = () => true;
  process.on("message", (m) => {
    if (m === "cpu") process.send({ cpu: process.cpuUsage() });
    if (m === "exit") process.exit(0);
  });
  process.send({ url: host.url });
} else {
  const calls = Number(process.argv[2] ?? 5_000);
  const inFlight = Number(process.argv[3] ?? 16);
  const { Code, ConnectError, createClient } = await import("@connectrpc/connect");
  const { createConnectTransport, createGrpcTransport, createGrpcWebTransport } = await import("@connectrpc/connect-node");
  const { ChatService } = await import("@caas/gen/caas/chat/v1/chat_service_pb.js");

  const results = [];
  const modes = (process.env.CAAS_BENCH_MODES ?? "stack,early,stack,early").split(",");
  for (const mode of modes) {
    // CAAS_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server.
    const execArgv = (process.env.CAAS_BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const child = fork(self, ["--serve", mode], { stdio: ["ignore", "ignore", "inherit", "ipc"], execArgv });
    const ask = (m) => new Promise((resolve) => child.once("message", resolve) && child.send(m));
    const { url } = await new Promise((resolve) => child.once("message", resolve));
    const hold = createClient(ChatService, createGrpcTransport({ baseUrl: url }));
    void hold.sendMessage({ conversationId: "c", clientMessageId: "held", text: "hi" }).catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
    const transports = {
      grpc: createGrpcTransport({ baseUrl: url }),
      "grpc-web h1": createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
      "connect h1": createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
    };
    for (const [protocol, transport] of Object.entries(transports)) {
      const client = createClient(ChatService, transport);
      const one = async (i) => {
        try {
          await client.sendMessage({ conversationId: "c", clientMessageId: `m-${i}`, text: "hi" }, { headers: { authorization: "Bearer not-checked-before-the-bound" } });
          throw new Error("not refused");
        } catch (e) {
          if (ConnectError.from(e).code !== Code.ResourceExhausted) throw e;
        }
      };
      const run = async (n) => {
        let next = 0;
        await Promise.all(
          Array.from({ length: inFlight }, async () => {
            while (next < n) await one(next++);
          }),
        );
      };
      await run(500); // warm-up
      const c0 = (await ask("cpu")).cpu;
      const w0 = performance.now();
      await run(calls);
      const wallS = (performance.now() - w0) / 1000;
      const c1 = (await ask("cpu")).cpu;
      const cpuUs = c1.user - c0.user + (c1.system - c0.system);
      results.push({ mode, protocol, serverCpuUsPerRefusal: Math.round(cpuUs / calls), refusalsPerSec: Math.round(calls / wallS) });
    }
    child.send("exit");
    await new Promise((r) => child.once("exit", r));
  }
  console.table(results);
  console.log(JSON.stringify({ node: process.version, loadAverage1m: Number(loadavg()[0].toFixed(1)), calls, inFlight, results }));
  process.exit(0);
}
