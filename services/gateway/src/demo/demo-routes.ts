import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import type { HttpRoute } from "@caas/shared/server/service-host";
import type { Logger } from "@caas/shared/logger";
import type { PeerDirectory } from "@caas/shared/clients";
import { readDemoCredentials, type DemoCredentials } from "./demo-setup.js";

/** The demo's built files (web/demo, bundled by `npm run build`). */
export const DEMO_STATIC_DIR = fileURLToPath(new URL("../../../../web/demo/dist/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

export interface DemoRoutesOptions {
  dataDir: string;
  peers: PeerDirectory;
  logger: Logger;
  staticDir?: string;
}

/**
 * The web chat demo on the gateway: `/demo/` serves the page, `GET /demo/api/users` lists the
 * demo users and `POST /demo/api/session` (`{"userId": "alice"}`) signs in as one of them
 * (a fresh session from the demo tenant's API key, which never leaves the server). Anyone who can
 * reach the page can be any demo user: that is the demo's point, and why it is embedded-only.
 */
export function createDemoRoutes(opts: DemoRoutesOptions): { httpRoutes: Record<string, HttpRoute>; httpPrefixRoutes: Record<string, HttpRoute> } {
  const staticDir = opts.staticDir ?? DEMO_STATIC_DIR;
  let creds: DemoCredentials | undefined;
  const credentials = async () => (creds ??= await readDemoCredentials(opts.dataDir));

  const json = (res: Parameters<HttpRoute>[1], status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  };

  const route: HttpRoute = async (req, res) => {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0] ?? "/");
    if (path === "/demo/api/users" && req.method === "GET") {
      const c = await credentials();
      return c ? json(res, 200, { users: c.users }) : json(res, 503, { error: "the demo is being set up; reload in a moment" });
    }
    if (path === "/demo/api/session" && req.method === "POST") {
      const c = await credentials();
      if (!c) return json(res, 503, { error: "the demo is being set up; reload in a moment" });
      const body = await readBody(req, 1024).catch(() => undefined);
      const userId = (body && (JSON.parse(body) as { userId?: unknown }).userId) as string | undefined;
      if (!c.users.some((u) => u.userId === userId)) return json(res, 400, { error: "userId must be one of the demo users" });
      const gateway = opts.peers.get("gateway")[0]!;
      const users = createClient(UserAdminService, createGrpcTransport({ baseUrl: gateway, interceptors: [(next) => (r) => (r.header.set("authorization", `Bearer ${c.apiKey}`), next(r))] }));
      const { tokens } = await users.issueUserToken({ userId: userId!, deviceId: `demo-${randomBytes(4).toString("hex")}`, deviceName: "CAAS web demo" });
      return json(res, 200, { userId, accessToken: tokens!.accessToken, refreshToken: tokens!.refreshToken });
    }
    if (req.method !== "GET" && req.method !== "HEAD") return json(res, 405, { error: "method not allowed" });
    const rel = path === "/demo/" ? "index.html" : path.slice("/demo/".length);
    const file = normalize(join(staticDir, rel));
    if (!file.startsWith(staticDir.endsWith(sep) ? staticDir : staticDir + sep)) return json(res, 404, { error: "not found" });
    const data = await readFile(file).catch(() => undefined);
    if (!data) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end(rel === "index.html" ? "the demo is not built: run npm run build\n" : "not found\n");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-cache" });
    if (req.method === "HEAD") res.end();
    else res.end(data);
  };

  return {
    httpRoutes: {
      "/demo": (_req, res) => {
        res.writeHead(308, { location: "/demo/" });
        res.end();
      },
    },
    httpPrefixRoutes: { "/demo/": route },
  };
}

function readBody(req: Parameters<HttpRoute>[0], max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) reject(new Error("body too large"));
      else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
