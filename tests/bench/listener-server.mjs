// The server side of listener.bench.mjs: serves grpc.health.v1 on one port, either through the
// platform's one-port DualListener or through a plain Node server (the baseline), and prints the
// bound port. Usage: node listener-server.mjs <dual|h2c|h1>
import http from "node:http";
import http2 from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Health } from "@caas/gen/grpc/health/v1/health_pb.js";
import { createHealthService, HealthRegistry, ServingStatus } from "@caas/shared/server/health";
import { DualListener } from "@caas/shared/server/listener";

const health = new HealthRegistry([]);
health.setAll(ServingStatus.SERVING);
const handler = connectNodeAdapter({ routes: (r) => r.service(Health, createHealthService(health)), readMaxBytes: 1 << 20 });

const mode = process.argv[2];
let port;
if (mode === "dual") {
  const listener = new DualListener({ host: "127.0.0.1", port: 0, handler });
  port = await listener.listen();
} else {
  const server = mode === "h2c" ? http2.createServer({}, handler) : http.createServer(handler);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = server.address().port;
}
process.stdout.write(`${port}\n`);
