import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { AuditService } from "@caas/gen/caas/compliance/v1/audit_service_pb.js";
import { RetentionService } from "@caas/gen/caas/compliance/v1/retention_service_pb.js";
import { bearer, tenantWithUsers } from "../support/tenants.js";

const embedded = inject("embedded");
const cluster = inject("cluster");

/** The tenant setting's age: long enough that messages sent after the wait are still young when the run starts on a loaded machine. */
const SETTING_S = 8n;

async function settingIsHonoured(gateway: string, adminCredential: string): Promise<void> {
  const acme = await tenantWithUsers(gateway, adminCredential, ["alice", "bob"], "tenant-retention");
  const other = await tenantWithUsers(gateway, adminCredential, ["carol"], "tenant-retention-other");
  const as = (token: string) => createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token)] });
  const apiKey = (await acme.admin.createApiKey({ tenantId: acme.tenantId, name: "retention" })).secret;
  const retention = createClient(RetentionService, as(apiKey));
  const otherRetention = createClient(RetentionService, as((await other.admin.createApiKey({ tenantId: other.tenantId, name: "retention" })).secret));
  const alice = createClient(ChatService, as(acme.token("alice")));
  const bob = createClient(ChatService, as(acme.token("bob")));
  const carol = createClient(ChatService, as(other.token("carol")));
  const open = async () => (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "r" })).conversation!.id;
  const [c1, c2] = [await open(), await open()];
  const carols = (await carol.createConversation({ type: ConversationType.GROUP, memberIds: [], title: "r" })).conversation!.id;
  for (const c of [c1, c2]) await alice.sendMessage({ conversationId: c, clientMessageId: "old", text: "old words" });
  await carol.sendMessage({ conversationId: carols, clientMessageId: "old", text: "carol's old words" });

  // The tenant's settings (auth) set the message age; c2's own RetentionService policy is wider, so the setting wins there too.
  await acme.admin.updateTenant({ tenant: { id: acme.tenantId, settings: { messageRetention: { seconds: SETTING_S } } }, updateMask: { paths: ["settings"] } });
  await retention.setRetentionPolicy({ policy: { conversationId: c2, messageMaxAge: { seconds: 3600n } } });
  expect((await retention.getRetentionPolicy({})).effective!.messageMaxAge!.seconds).toBe(SETTING_S);
  const c2Policy = await retention.getRetentionPolicy({ conversationId: c2 });
  expect([c2Policy.policy!.messageMaxAge!.seconds, c2Policy.effective!.messageMaxAge!.seconds]).toEqual([3600n, SETTING_S]);

  await new Promise((r) => setTimeout(r, Number(SETTING_S) * 1000 + 200));
  for (const c of [c1, c2]) await alice.sendMessage({ conversationId: c, clientMessageId: "new", text: "new words" });
  expect((await retention.previewRetention({})).counts).toMatchObject({ messages: 2n, conversations: 2n });
  // Another tenant without the setting keeps everything.
  expect((await otherRetention.runRetention({})).counts).toMatchObject({ messages: 0n, conversations: 0n });
  expect((await retention.runRetention({})).counts).toMatchObject({ messages: 2n, conversations: 2n });
  for (const c of [c1, c2]) {
    const texts = (await bob.listMessages({ conversationId: c })).messages.map((m) => (m.deleted ? "" : m.text));
    expect(texts).toEqual(["new words", ""]); // newest first
  }
  expect((await carol.listMessages({ conversationId: carols })).messages.map((m) => m.text)).toEqual(["carol's old words"]);
  const runs = (await createClient(AuditService, as(apiKey)).listAuditEvents({ action: "compliance.retention.run" })).events;
  expect(runs.map((e) => Object.fromEntries(e.details.map((d) => [d.key, d.value])).messages)).toEqual(["2"]);

  // Zero turns the setting off again: only RetentionService policies apply.
  await acme.admin.updateTenant({ tenant: { id: acme.tenantId, settings: {} }, updateMask: { paths: ["settings"] } });
  expect((await retention.getRetentionPolicy({})).effective!.messageMaxAge).toBeUndefined();
  expect((await retention.getRetentionPolicy({ conversationId: c2 })).effective!.messageMaxAge!.seconds).toBe(3600n);
}

describe("TenantSettings.message_retention drives the retention sweep (embedded platform)", () => {
  it("expires messages older than the tenant setting, narrower than a conversation's wider policy, in that tenant only", async () => {
    const adminCredential = readFileSync(join(embedded.dataDir, "admin-credential"), "utf8").trim();
    await settingIsHonoured(embedded.endpoints.gateway!, adminCredential);
  }, 120_000);
});

describe.skipIf(!cluster)("TenantSettings.message_retention drives the retention sweep (cluster)", () => {
  it("expires messages older than the tenant setting, narrower than a conversation's wider policy, in that tenant only", async () => {
    await settingIsHonoured(cluster!.endpoints.gateway!, cluster!.adminToken);
  }, 120_000);
});
