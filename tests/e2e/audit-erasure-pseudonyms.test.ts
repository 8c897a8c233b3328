import { randomUUID } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toJson } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import Database from "better-sqlite3";
import { describe, expect, inject, it } from "vitest";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { AuditService, GetAuditPublicKeysResponseSchema } from "@caas/gen/caas/compliance/v1/audit_service_pb.js";
import { PrivacyJobState, PrivacyService } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { connectMongo } from "@caas/shared/mongo";
import { infraEnv } from "@caas/shared/testing";
import { bearer, tenantWithUsers } from "../support/tenants.js";

const embedded = inject("embedded");
const cluster = inject("cluster");
const VERIFIER = join(import.meta.dirname, "../../services/compliance/bin/verify-audit-log.mjs");
const json = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? String(x) : x));

/** Polls `read` until `done` holds (records arrive from the bus asynchronously); no fixed sleeps. */
async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${json(value)}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/**
 * A user acts and is audited, then is erased. Returns the tenant's API key client on the audit log
 * and the user id, after checking: the chain verifies online and its export offline, the export
 * and every listed record are free of the user id, and a filter on the id finds nothing.
 */
async function actAuditErase(gateway: string, adminCredential: string) {
  const subject = `subject-${randomUUID().slice(0, 8)}`;
  const acme = await tenantWithUsers(gateway, adminCredential, [subject, "bob"], "audit-psn");
  const apiKey = (await acme.admin.createApiKey({ tenantId: acme.tenantId, name: "privacy" })).secret;
  const transport = (credential: string) => createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(credential)] });
  const audit = createClient(AuditService, transport(apiKey));

  // The user bans bob from a conversation they made and signs out: both audited with the user as actor.
  const chat = createClient(ChatService, transport(acme.token(subject)));
  const conversationId = (await chat.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "audited" })).conversation!.id;
  await chat.sendMessage({ conversationId, clientMessageId: "m1", text: "hello" });
  await chat.banMember({ conversationId, userId: "bob", reason: "test" });
  await createClient(AuthService, transport(acme.token(subject))).signOut({});
  const mine = await until(
    () => audit.listAuditEvents({ actorId: subject, pageSize: 500 }),
    (r) => ["chat.member.ban", "auth.session.revoke"].every((a) => r.events.some((e) => e.action === a)),
    "the user's actions audited",
  );
  // While linked, readers see the user id and filter by it.
  expect(mine.events.every((e) => e.actor?.id === subject)).toBe(true);

  const privacy = createClient(PrivacyService, transport(apiKey));
  const { job } = await privacy.requestErasure({ userId: subject });
  const done = await until(
    () => privacy.getJob({ jobId: job!.id }),
    (r) => r.job!.state !== PrivacyJobState.RUNNING,
    "the erasure",
    60_000,
  );
  expect(done.job!.state).toBe(PrivacyJobState.SUCCEEDED);
  // The erasure's own records and the user's deletion from auth are in the chain.
  const all = await until(
    () => audit.listAuditEvents({ pageSize: 500 }),
    (r) => ["compliance.erasure.complete", "auth.user.delete"].every((a) => r.events.some((e) => e.action === a)),
    "the erasure audited",
  );
  expect(json(all.events)).not.toContain(subject);
  expect(all.events.find((e) => e.action === "chat.member.ban")!.actor!.id).toMatch(/^psn_[0-9a-f]{32}$/);
  expect(all.events.find((e) => e.action === "chat.member.ban")!.target!.id).toBe("bob");
  expect((await audit.listAuditEvents({ actorId: subject })).events).toEqual([]);

  expect(await audit.verifyAuditLog({})).toMatchObject({ ok: true });
  let exported = "";
  for await (const chunk of audit.exportAuditLog({})) exported += new TextDecoder().decode(chunk.chunk);
  expect(exported).not.toContain(subject);
  const dir = mkdtempSync(join(tmpdir(), "caas-audit-psn-e2e-"));
  writeFileSync(join(dir, "export.jsonl"), exported);
  writeFileSync(join(dir, "keys.json"), JSON.stringify(toJson(GetAuditPublicKeysResponseSchema, await audit.getAuditPublicKeys({}))));
  const run = spawnSync(process.execPath, [VERIFIER, join(dir, "export.jsonl"), join(dir, "keys.json")], { encoding: "utf8" });
  expect(run.status, run.stderr).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, tenantId: acme.tenantId });
  return { subject, tenantId: acme.tenantId };
}

/** The privacy job keeps the user id it was asked for (GetJob reports it); no other compliance table may. */
const JOB_OBJECTS = new Set(["privacy_jobs", "privacy_jobs_open", "privacy_jobs_user", "privacy_jobs_unfinished", "sqlite_autoindex_privacy_jobs_1"]);

/**
 * The tables and indexes whose pages in compliance's SQLite file or WAL frames contain `needle`
 * (pages are attributed through SQLite's dbstat; a page no object owns is reported as "free").
 */
function sqliteObjectsHolding(path: string, needle: string): string[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const pageSize = db.pragma("page_size", { simple: true }) as number;
    const owner = new Map((db.prepare("SELECT pageno, name FROM dbstat").all() as { pageno: number; name: string }[]).map((r) => [r.pageno, r.name]));
    const found = new Set<string>();
    const bytes = Buffer.from(needle);
    const main = readFileSync(path);
    for (let page = 0; page * pageSize < main.length; page++) {
      if (main.subarray(page * pageSize, (page + 1) * pageSize).includes(bytes)) found.add(owner.get(page + 1) ?? "free");
    }
    let wal: Buffer;
    try {
      wal = readFileSync(`${path}-wal`);
    } catch {
      wal = Buffer.alloc(0);
    }
    // WAL: a 32-byte header, then frames of a 24-byte header (page number first) and a page.
    for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
      if (wal.subarray(at + 24, at + 24 + pageSize).includes(bytes)) found.add(`wal:${owner.get(wal.readUInt32BE(at)) ?? "free"}`);
    }
    if (wal.length > 0 && wal.subarray(0, 32).includes(bytes)) found.add("wal:header");
    return [...found].sort();
  } finally {
    db.close();
  }
}

describe("erasure unlinks a user from the audit chain (embedded platform)", () => {
  it("after an erasure the chain verifies online and offline, and the user id is in no audit record nor any audit page of compliance's SQLite file or WAL", async () => {
    const adminCredential = readFileSync(join(embedded.dataDir, "admin-credential"), "utf8").trim();
    const { subject } = await actAuditErase(embedded.endpoints.gateway!, adminCredential);
    const files = readdirSync(embedded.dataDir).filter((f) => f.startsWith("compliance.db"));
    expect(files).toContain("compliance.db");
    const holding = sqliteObjectsHolding(join(embedded.dataDir, "compliance.db"), subject);
    expect(holding.filter((o) => !JOB_OBJECTS.has(o.replace(/^wal:/, "")))).toEqual([]);
    // The check can see the id: the erasure job's own record holds it.
    expect(holding.length).toBeGreaterThan(0);
  }, 180_000);
});

describe.skipIf(!cluster)("erasure unlinks a user from the audit chain (cluster: Kafka, MongoDB protocol)", () => {
  it("after an erasure the chain verifies online and offline, and the user id is in no document of the audit collections", async () => {
    const { subject, tenantId } = await actAuditErase(cluster!.endpoints.gateway!, cluster!.adminToken);
    const conn = await connectMongo(infraEnv("CAAS_MONGO_URL")!, cluster!.runPrefix);
    try {
      const db = conn.client.db(cluster!.runPrefix);
      for (const name of ["compliance_audit_events", "compliance_audit_checkpoints", "compliance_audit_subjects", "compliance_audit_erased_subjects"]) {
        const docs = await db.collection(name).find({ tenantId }).toArray();
        if (name === "compliance_audit_events") expect(docs.length).toBeGreaterThan(0);
        expect(json(docs), name).not.toContain(subject);
      }
    } finally {
      await conn.close();
    }
  }, 180_000);
});
