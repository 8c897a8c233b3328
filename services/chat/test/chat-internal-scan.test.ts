import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, type Client } from "@connectrpc/connect";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { newId } from "@caas/shared/ids";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { registerChatRoutes } from "../src/routes.js";
import { sqliteWorld, type World } from "./support/harness.js";
import { failure } from "./support/expect.js";
import { internalClientAs } from "./support/router.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-scan-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("ChatInternalService.ScanConversations (tier 2: routes with a service principal set directly)", () => {
  let w: World;
  const internalAs = (who?: string) => internalClientAs((router) => registerChatRoutes(router, w.instance.impl, w.instance.internal), who);
  let svc: Client<typeof ChatInternalService>;

  beforeEach(async () => {
    w = await sqliteWorld(dir, undefined, randomUUID());
    svc = internalAs("svc:compliance");
  });
  afterEach(() => w.close());

  /** Every page of a scan, following next_page_token. */
  async function scanAll(tenantId: string, pageSize: number): Promise<{ pages: number; ids: string[] }> {
    const ids: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const res = await svc.scanConversations({ tenantId, pageSize, pageToken });
      pages++;
      ids.push(...res.conversations.map((c) => c.id));
      pageToken = res.nextPageToken;
    } while (pageToken !== "");
    return { pages, ids };
  }

  it("serves service tokens only: users PERMISSION_DENIED, anonymous UNAUTHENTICATED", async () => {
    expect((await failure(internalAs(`${w.tenantId}/alice`).scanConversations({ tenantId: w.tenantId }))).code).toBe(Code.PermissionDenied);
    expect((await failure(internalAs(undefined).scanConversations({ tenantId: w.tenantId }))).code).toBe(Code.Unauthenticated);
  });

  it("pages a tenant's live conversations in id order with full conversation views; deleted ones and other tenants' never appear", async () => {
    const alice = w.as("alice");
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await alice.createConversation({ type: ConversationType.GROUP, title: `g${i}`, memberIds: i === 0 ? ["bob", "carol"] : ["bob"] })).conversation!.id);
    ids.push((await alice.createConversation({ type: ConversationType.DIRECT, memberIds: ["dave"] })).conversation!.id);
    await alice.sendMessage({ conversationId: ids[0]!, clientMessageId: "m1", text: "hello" });
    await alice.deleteConversation({ conversationId: ids[2]! });
    // Another tenant on the same store.
    const other = randomUUID();
    const theirs = (await w.as("zed", other).createConversation({ type: ConversationType.GROUP, title: "theirs" })).conversation!.id;

    const live = ids.filter((id) => id !== ids[2]).sort();
    const scanned = await scanAll(w.tenantId, 2);
    expect(scanned).toEqual({ pages: 2, ids: live });
    expect(await scanAll(w.tenantId, 0)).toEqual({ pages: 1, ids: live });
    expect(await scanAll(other, 0)).toEqual({ pages: 1, ids: [theirs] });
    expect(await scanAll(randomUUID(), 0)).toEqual({ pages: 1, ids: [] });

    const first = (await svc.scanConversations({ tenantId: w.tenantId, pageSize: 10 })).conversations.find((c) => c.id === ids[0]);
    expect(first).toMatchObject({ title: "g0", type: ConversationType.GROUP, memberCount: 3, createdBy: "alice", lastSeq: 2n });
    expect(first?.lastMessage?.textPreview).toBe("hello");
  });

  it("fills pages larger than one store read, and ends with an empty token exactly at the end", async () => {
    const scope = scopeForAdmin(w.tenantId);
    const ids: string[] = [];
    for (let i = 0; i < 1_203; i++) {
      const id = newId();
      ids.push(id);
      await w.instance.stores.conversations.create(scope, { id, kind: "group", title: "", avatarUrl: "", createdBy: "alice", createTimeMs: w.clock.nowMs(), joinPolicy: "closed" });
    }
    ids.sort();
    const big = await svc.scanConversations({ tenantId: w.tenantId, pageSize: 2000 });
    expect(big.conversations.map((c) => c.id)).toEqual(ids);
    expect(big.nextPageToken).toBe("");
    const p1 = await svc.scanConversations({ tenantId: w.tenantId, pageSize: 1_100 });
    expect(p1.conversations.map((c) => c.id)).toEqual(ids.slice(0, 1_100));
    const p2 = await svc.scanConversations({ tenantId: w.tenantId, pageSize: 103, pageToken: p1.nextPageToken });
    expect(p2.conversations.map((c) => c.id)).toEqual(ids.slice(1_100));
    expect(p2.nextPageToken).toBe("");
    // 0 means 500.
    expect((await svc.scanConversations({ tenantId: w.tenantId })).conversations).toHaveLength(500);
  });

  it("rejects bad input and page tokens of another tenant or another query", async () => {
    const alice = w.as("alice");
    for (let i = 0; i < 3; i++) await alice.createConversation({ type: ConversationType.GROUP });
    const { nextPageToken } = await svc.scanConversations({ tenantId: w.tenantId, pageSize: 1 });
    expect(nextPageToken).not.toBe("");
    const bad = async (req: Parameters<typeof svc.scanConversations>[0]) => {
      const err = await failure(svc.scanConversations(req));
      expect(err.code).toBe(Code.InvalidArgument);
      return err;
    };
    await bad({ tenantId: "nope" });
    await bad({ tenantId: w.tenantId, pageSize: 2001 });
    await bad({ tenantId: w.tenantId, pageSize: -1 });
    await bad({ tenantId: w.tenantId, pageToken: "forged" });
    await bad({ tenantId: randomUUID(), pageToken: nextPageToken });
    const members = await svc.listMemberships({ tenantId: w.tenantId, userId: "alice", pageSize: 1 });
    await bad({ tenantId: w.tenantId, pageToken: members.nextPageToken });
  });
});
