// What the realtime benchmarks share on the server side: users, tenants and conversations on the
// embedded platform with access tokens, and the memory and CPU readings of a server under test.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { cpuMs, repoRoot, sleep } from "./embedded-platform.mjs";

/** Node flags for every server under test: SIGUSR2 then runs a full GC (gc-on-signal.cjs). */
export const GC_ON_SIGNAL = ["--expose-gc", "--require", join(repoRoot, "tests/bench/gc-on-signal.cjs")];

/** Where servers write their memory use after a full GC (gc-on-signal.cjs). */
export const MEMORY_FILE = process.env.CAAS_BENCH_MEMORY_FILE ?? join(mkdtempSync(join(tmpdir(), "caas-bench-mem-")), "memory.jsonl");
process.env.CAAS_BENCH_MEMORY_FILE = MEMORY_FILE; // bare servers inherit the environment
process.env.CAAS_BENCH_ENV_CAAS_BENCH_MEMORY_FILE = MEMORY_FILE; // the platform gets CAAS_BENCH_ENV_*

/**
 * The JS heap `pid` holds after a full garbage collection, in KiB (SIGUSR2, see GC_ON_SIGNAL), and
 * the young generation's size just before it (KiB).
 */
export async function liveHeap(pid) {
  const lines = () => (existsSync(MEMORY_FILE) ? readFileSync(MEMORY_FILE, "utf8").trim().split("\n").filter(Boolean) : []);
  const n = lines().length;
  process.kill(pid, "SIGUSR2");
  for (let i = 0; i < 100 && lines().length === n; i++) await sleep(50);
  const m = JSON.parse(lines().at(-1));
  return { kib: (m.heapUsed + m.external) / 1024, newSpaceKiB: m.spacesKiB?.new_space ?? NaN };
}

export const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
/**
 * Waits until `pid` used under 10 % of a core over 500 ms (at most 30 s); returns how long it
 * waited. Used after an overloaded ramp, before a measurement at a fixed rate.
 */
export async function settle(pid) {
  const t0 = Date.now();
  while (Date.now() - t0 < 30_000) {
    const c0 = cpuMs(pid);
    await sleep(500);
    if (cpuMs(pid) - c0 < 50) break;
  }
  return Date.now() - t0;
}

// Auth issues at most 600 tokens per tenant per minute: users are spread over tenants of at
// most this many (a room never spans tenants), and a refusal waits out its RetryInfo delay.
export const USERS_PER_TENANT = 500;

/** A tenant on the platform with `count` users and their access tokens (issued now: they live 5 minutes). */
export async function tenantUsers(platform, count, prefix) {
  process.stderr.write(`  setting up ${count} users (${prefix})\n`);
  const bearer = (t) => (next) => (req) => {
    req.header.set("authorization", `Bearer ${t}`);
    return next(req);
  };
  const admin = createClient(TenantAdminService, createGrpcTransport({ baseUrl: platform.endpoints.auth, interceptors: [bearer(platform.adminCredential)] }));
  const { tenant } = await admin.createTenant({ name: `bench-rt-${prefix}-${Date.now()}` });
  if (process.env.CAAS_BENCH_DEBUG) process.stderr.write(`  tenant ${tenant.id}\n`);
  const { secret } = await admin.createApiKey({ tenantId: tenant.id, name: "bench" });
  const backend = createClient(UserAdminService, createGrpcTransport({ baseUrl: platform.endpoints.auth, interceptors: [bearer(secret)] }));
  const issue = async (userId) => {
    for (;;) {
      try {
        return (await backend.issueUserToken({ userId, deviceId: "bench" })).tokens;
      } catch (err) {
        const e = ConnectError.from(err);
        if (e.code !== Code.ResourceExhausted) throw e;
        if (process.env.CAAS_BENCH_DEBUG) process.stderr.write(`  ${e.message}\n`);
        const d = e.findDetails(RetryInfoSchema)[0]?.retryDelay;
        await sleep(d ? Number(d.seconds) * 1000 + d.nanos / 1e6 + 50 : 1000);
      }
    }
  };
  const users = [];
  for (let i = 0; i < count; i += 50) {
    users.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, async (_, j) => {
          const userId = `${prefix}${i + j}`;
          await backend.upsertUser({ userId, displayName: userId });
          // Tokens live 5 minutes: they are issued right before the connections open (freshTokens).
          // issueTokens: the refresh token too, for clients that refresh like @caas/client (the storm bench).
          return { userId, issue: async () => (await issue(userId)).accessToken, issueTokens: () => issue(userId) };
        }),
      )),
    );
  }
  return users;
}

/** Issues every member a new access token (just before its connections open: tokens live 5 minutes). */
export async function freshTokens(members) {
  for (let i = 0; i < members.length; i += 50) await Promise.all(members.slice(i, i + 50).map(async (m) => (m.token = await m.issue())));
  return members;
}

/** `count` users over as many tenants as needed. */
export async function manyUsers(platform, count, prefix) {
  const users = [];
  for (let i = 0; i < count; i += USERS_PER_TENANT) users.push(...(await tenantUsers(platform, Math.min(USERS_PER_TENANT, count - i), `${prefix}t${i}-`)));
  return users;
}

/** `rooms` conversations of `size` members each on the platform; every member with a token. */
export async function ourRooms(platform, rooms, size, prefix) {
  const roomsPerTenant = Math.max(1, Math.floor(USERS_PER_TENANT / size));
  const members = [];
  for (let t = 0; t < rooms; t += roomsPerTenant) {
    const n = Math.min(roomsPerTenant, rooms - t);
    const users = await tenantUsers(platform, n * size, `${prefix}t${t}-`);
    members.push(...(await roomsOf(platform, users, n, size)));
  }
  return members;
}

export async function roomsOf(platform, users, rooms, size) {
  const chat = createClient(ChatService, createGrpcTransport({ baseUrl: platform.endpoints.chat }));
  const members = [];
  for (let r = 0; r < rooms; r += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, rooms - r) }, async (_, k) => {
        const room = users.slice((r + k) * size, (r + k + 1) * size);
        const owner = room[0];
        const auth = { headers: { authorization: `Bearer ${await owner.issue()}` } };
        const { conversation } = await chat.createConversation({ type: ConversationType.GROUP, title: `bench ${r + k}`, memberIds: room.slice(1, 100).map((u) => u.userId) }, auth);
        for (let i = 100; i < room.length; i += 100) {
          await chat.addMembers({ conversationId: conversation.id, userIds: room.slice(i, i + 100).map((u) => u.userId) }, auth);
        }
        for (const u of room) members.push({ ...u, room: conversation.id });
      }),
    );
  }
  return members;
}
