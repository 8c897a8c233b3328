import { createHmac, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { createPeerClient, type PeerDirectory } from "../clients.js";
import type { Clock } from "../clock.js";
import type { RunMode } from "../config.js";
import { PRIVATE_DIR_MODE } from "../data-dir.js";

/** The JWT `typ` of service tokens, so a service token never passes for an access token or back. */
export const SERVICE_TOKEN_TYPE = "svc+jwt";
/** `sub` of a service token: this prefix and the calling service's name. */
export const SERVICE_SUBJECT_PREFIX = "svc:";
/** Starts every per-service bootstrap secret. */
export const SERVICE_SECRET_PREFIX = "caas_s_";
/** Embedded mode keeps the generated service-secret root here, under the data directory (0600). */
export const SERVICE_SECRET_FILE = "service-secret";

/**
 * The bootstrap secret of one service: `caas_s_` + base64url(HMAC-SHA256(root, "service:" + name)).
 * Every process that holds the root (CAAS_SERVICE_SECRET) derives its own; the auth service
 * derives them all to tell which service presented one.
 */
export function serviceSecretFor(root: string, service: string): string {
  return `${SERVICE_SECRET_PREFIX}${createHmac("sha256", root).update(`service:${service}`, "utf8").digest("base64url")}`;
}

/**
 * The service-secret root, decided in one place for both composition roots: CAAS_SERVICE_SECRET
 * when set (at least 32 characters); otherwise, in embedded mode, `<dataDir>/service-secret`,
 * generated (256 random bits, mode 0600) at first start. A cluster without CAAS_SERVICE_SECRET
 * has none: its services cannot obtain service tokens.
 */
export async function loadServiceSecretRoot(opts: { mode: RunMode; dataDir: string; env?: string }): Promise<string | undefined> {
  const env = opts.env?.trim();
  if (env) {
    if (env.length < 32) throw new RangeError("CAAS_SERVICE_SECRET must be at least 32 characters");
    return env;
  }
  if (opts.mode !== "embedded") return undefined;
  const path = join(opts.dataDir, SERVICE_SECRET_FILE);
  const existing = await readFile(path, "utf8").then(
    (s) => s.trim(),
    () => "",
  );
  if (existing) return existing;
  await mkdir(opts.dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const fresh = randomBytes(32).toString("base64url");
  try {
    await writeFile(path, `${fresh}\n`, { mode: 0o600, flag: "wx" });
    return fresh;
  } catch {
    // Another process created it first: use that one.
    return (await readFile(path, "utf8")).trim();
  }
}

/** A service token and when it expires. */
export interface ServiceToken {
  token: string;
  expireTimeMs: number;
}

/** Fetches a new service token for calls to `audience` (AuthInternalService.IssueServiceToken). */
export type ServiceTokenFetcher = (audience: string) => Promise<ServiceToken>;

/**
 * Service tokens for the calls a service starts by itself (consumers, sweepers): fetched from
 * auth on first use per audience, cached, and renewed once less than `renewBeforeMs` of their
 * life is left. Concurrent callers share one fetch.
 */
export class ServiceTokenSource {
  private readonly cache = new Map<string, ServiceToken>();
  private readonly inflight = new Map<string, Promise<ServiceToken>>();
  private readonly renewBeforeMs: number;

  constructor(private readonly opts: { fetch: ServiceTokenFetcher; clock: Clock; renewBeforeMs?: number }) {
    this.renewBeforeMs = opts.renewBeforeMs ?? 60_000;
  }

  /** A token for `audience` with at least `renewBeforeMs` left (fetched when needed). */
  async token(audience: string): Promise<string> {
    const cached = this.cache.get(audience);
    if (cached && cached.expireTimeMs - this.opts.clock.nowMs() > this.renewBeforeMs) return cached.token;
    let pending = this.inflight.get(audience);
    if (!pending) {
      pending = this.opts.fetch(audience).finally(() => this.inflight.delete(audience));
      this.inflight.set(audience, pending);
    }
    const fresh = await pending;
    this.cache.set(audience, fresh);
    return fresh.token;
  }
}

/**
 * The ServiceTokenSource of service `service`, asking the auth service over the mesh with its
 * bootstrap secret derived from the root.
 */
export function createPeerServiceTokenSource(opts: { service: string; root: string; peers: PeerDirectory; clock: Clock }): ServiceTokenSource {
  const client = createPeerClient(AuthInternalService, "auth", opts.peers);
  const secret = serviceSecretFor(opts.root, opts.service);
  return new ServiceTokenSource({
    clock: opts.clock,
    fetch: async (audience) => {
      const res = await client.issueServiceToken({ serviceName: opts.service, audience }, { headers: { authorization: `Bearer ${secret}` } });
      return { token: res.token, expireTimeMs: res.expireTime ? timestampMs(res.expireTime) : 0 };
    },
  });
}
