import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, type Client } from "@connectrpc/connect";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ConversationType, JoinPolicy } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MemberRole } from "@caas/gen/caas/chat/v1/member_pb.js";
import { newId } from "@caas/shared/ids";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { registerChatRoutes } from "../src/routes.js";
import { sqliteWorld, type Tier1Client, type World } from "./support/harness.js";
import { failure } from "./support/expect.js";
import { internalClientAs } from "./support/router.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-internal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("ChatInternalService (tier 2: routes with a service principal set directly)", () => {
  let w: World;
  let alice: Tier1Client;
  let bob: Tier1Client;
  const internalAs = (who?: string) => internalClientAs((router) => registerChatRoutes(router, w.instance.impl, w.instance.internal), who);
  let svc: Client<typeof ChatInternalService>;

  beforeEach(async () => {
    w = await sqliteWorld(dir, undefined, randomUUID());
    alice = w.as("alice");
    bob = w.as("bob");
    svc = internalAs("svc:socket");
  });
  afterEach(() => w.close());

  it("refuses user tokens (PERMISSION_DENIED) and anonymous callers (UNAUTHENTICATED)", async () => {
    const req = { tenantId: w.tenantId, userId: "alice", conversationIds: [newId()] };
    expect((await failure(internalAs(`${w.tenantId}/alice`).checkAccess(req))).code).toBe(Code.PermissionDenied);
    expect((await failure(internalAs(`${w.tenantId}/alice`).syncInternal({ tenantId: w.tenantId, conversationId: newId() }))).code).toBe(Code.PermissionDenied);
    expect((await failure(internalAs(`${w.tenantId}/alice`).listMemberships({ tenantId: w.tenantId, userId: "alice" }))).code).toBe(Code.PermissionDenied);
    expect((await failure(internalAs(`${w.tenantId}/alice`).getConversationMembers({ tenantId: w.tenantId, conversationId: newId() }))).code).toBe(Code.PermissionDenied);
    expect((await failure(internalAs(undefined).checkAccess(req))).code).toBe(Code.Unauthenticated);
  });

  it("rejects bad input: tenant and conversation ids, user ids, empty and oversized lists", async () => {
    expect((await failure(svc.checkAccess({ tenantId: "nope", userId: "alice", conversationIds: [newId()] }))).code).toBe(Code.InvalidArgument);
    expect((await failure(svc.checkAccess({ tenantId: w.tenantId, userId: "a b", conversationIds: [newId()] }))).code).toBe(Code.InvalidArgument);
    expect((await failure(svc.checkAccess({ tenantId: w.tenantId, userId: "alice", conversationIds: [] }))).code).toBe(Code.InvalidArgument);
    const many = Array.from({ length: 101 }, () => newId());
    expect((await failure(svc.checkAccess({ tenantId: w.tenantId, userId: "alice", conversationIds: many }))).code).toBe(Code.InvalidArgument);
    expect((await failure(svc.syncInternal({ tenantId: w.tenantId, conversationId: "x" }))).code).toBe(Code.InvalidArgument);
    expect((await failure(svc.syncInternal({ tenantId: w.tenantId, conversationId: newId(), limit: 2001 }))).code).toBe(Code.InvalidArgument);
    expect((await failure(svc.getConversationMembers({ tenantId: w.tenantId, conversationId: newId(), pageToken: "forged" }))).code).toBe(Code.InvalidArgument);
  });

  it("CheckAccess tells members, viewers of OPEN conversations, former members and strangers apart, per tenant", async () => {
    const closed = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    const open = (await alice.createConversation({ type: ConversationType.GROUP, joinPolicy: JoinPolicy.OPEN })).conversation!.id;
    await alice.sendMessage({ conversationId: closed, clientMessageId: "m1", text: "hi" });
    await alice.removeMember({ conversationId: closed, userId: "bob" });
    const unknown = newId();
    const check = (userId: string, tenantId = w.tenantId) => svc.checkAccess({ tenantId, userId, conversationIds: [closed, open, unknown] });
    const a = await check("alice");
    expect(a.accesses.map((x) => [x.conversationId, x.member?.role, x.firstVisibleSeq, x.lastVisibleSeq])).toEqual([
      [closed, MemberRole.OWNER, 1n, 0n],
      [open, MemberRole.OWNER, 1n, 0n],
      [unknown, undefined, 0n, 0n],
    ]);
    const b = await check("bob");
    expect(b.accesses.map((x) => [x.member, x.firstVisibleSeq, x.lastVisibleSeq])).toEqual([
      [undefined, 1n, 3n],
      [undefined, 1n, 0n],
      [undefined, 0n, 0n],
    ]);
    const carol = await check("carol");
    expect(carol.accesses.map((x) => [x.firstVisibleSeq, x.lastVisibleSeq])).toEqual([
      [0n, 0n],
      [1n, 0n],
      [0n, 0n],
    ]);
    // Another tenant sees nothing of these ids.
    const other = await check("alice", randomUUID());
    expect(other.accesses.every((x) => x.member === undefined && x.firstVisibleSeq === 0n)).toBe(true);
    // After a deletion, former members read up to it and nobody is a member.
    await alice.deleteConversation({ conversationId: open });
    const after = await svc.checkAccess({ tenantId: w.tenantId, userId: "alice", conversationIds: [open] });
    expect(after.accesses[0]).toMatchObject({ firstVisibleSeq: 1n, lastVisibleSeq: 2n });
    expect(after.accesses[0]!.member).toBeUndefined();
  });

  it("ListReadableConversations gives a user's conversations with CheckAccess's ranges, paged, per tenant", async () => {
    const kept = (await alice.createConversation({ type: ConversationType.GROUP, title: "Kept", memberIds: ["bob"] })).conversation!.id;
    const left = (await alice.createConversation({ type: ConversationType.GROUP, title: "Left", memberIds: ["bob"] })).conversation!.id;
    const gone = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    const open = (await alice.createConversation({ type: ConversationType.GROUP, joinPolicy: JoinPolicy.OPEN })).conversation!.id;
    await alice.sendMessage({ conversationId: left, clientMessageId: "m1", text: "hi" });
    await alice.removeMember({ conversationId: left, userId: "bob" });
    await alice.sendMessage({ conversationId: left, clientMessageId: "m2", text: "after" });
    await alice.deleteConversation({ conversationId: gone });
    const list = async (userId: string, tenantId = w.tenantId) => {
      const seen: [string, string, bigint, bigint][] = [];
      let pageToken = "";
      do {
        const page = await svc.listReadableConversations({ tenantId, userId, pageSize: 1, pageToken });
        seen.push(...page.conversations.map((c) => [c.conversationId, c.title, c.firstVisibleSeq, c.lastVisibleSeq] as [string, string, bigint, bigint]));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      return seen;
    };
    const sorted = (rows: [string, string, bigint, bigint][]) => rows.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    // bob left one conversation at seq 3 (created 1, message 2, removal 3); the deleted one and the
    // OPEN one he never joined are not listed.
    expect(await list("bob")).toEqual(
      sorted([
        [kept, "Kept", 1n, 0n],
        [left, "Left", 1n, 3n],
      ]),
    );
    expect(await list("alice")).toEqual(
      sorted([
        [kept, "Kept", 1n, 0n],
        [left, "Left", 1n, 0n],
        [open, "", 1n, 0n],
      ]),
    );
    // The ranges are those CheckAccess gives.
    const checked = await svc.checkAccess({ tenantId: w.tenantId, userId: "bob", conversationIds: [kept, left] });
    expect(checked.accesses.map((a) => [a.firstVisibleSeq, a.lastVisibleSeq])).toEqual([
      [1n, 0n],
      [1n, 3n],
    ]);
    expect(await list("carol")).toEqual([]);
    expect(await list("bob", randomUUID())).toEqual([]);
    const first = await svc.listReadableConversations({ tenantId: w.tenantId, userId: "bob", pageSize: 1 });
    expect((await failure(svc.listReadableConversations({ tenantId: w.tenantId, userId: "alice", pageToken: first.nextPageToken }))).code).toBe(Code.InvalidArgument);
    expect((await failure(internalAs(`${w.tenantId}/bob`).listReadableConversations({ tenantId: w.tenantId, userId: "bob" }))).code).toBe(Code.PermissionDenied);
  });

  it("GetConversationMembers pages current members as of one seq; NOT_FOUND for unknown, deleted or other tenants' conversations", async () => {
    const users = ["bob", "carol", "dave", "erin"];
    const id = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: users })).conversation!.id;
    await alice.removeMember({ conversationId: id, userId: "dave" });
    const first = await svc.getConversationMembers({ tenantId: w.tenantId, conversationId: id, pageSize: 2 });
    expect(first.asOfSeq).toBe(2n);
    expect(first.nextPageToken).not.toBe("");
    // A member joining between pages is left out: the caller applies it from the stream.
    await alice.addMembers({ conversationId: id, userIds: ["frank"] });
    const second = await svc.getConversationMembers({ tenantId: w.tenantId, conversationId: id, pageSize: 2, pageToken: first.nextPageToken });
    expect(second.asOfSeq).toBe(2n);
    const rest = second.nextPageToken ? await svc.getConversationMembers({ tenantId: w.tenantId, conversationId: id, pageSize: 2, pageToken: second.nextPageToken }) : undefined;
    const all = [...first.members, ...second.members, ...(rest?.members ?? [])].map((m) => m.userId);
    expect(all.sort()).toEqual(["alice", "bob", "carol", "erin"]);
    const fresh = await svc.getConversationMembers({ tenantId: w.tenantId, conversationId: id });
    expect(fresh.members.map((m) => m.userId).sort()).toEqual(["alice", "bob", "carol", "erin", "frank"]);
    expect(fresh.asOfSeq).toBe(3n);
    // A page token is bound to its tenant and conversation.
    const otherTenant = randomUUID();
    expect((await failure(svc.getConversationMembers({ tenantId: otherTenant, conversationId: id }))).code).toBe(Code.NotFound);
    expect((await failure(svc.getConversationMembers({ tenantId: otherTenant, conversationId: id, pageToken: first.nextPageToken }))).code).toBe(Code.InvalidArgument);
    expect((await failure(svc.getConversationMembers({ tenantId: w.tenantId, conversationId: newId() }))).code).toBe(Code.NotFound);
    await alice.deleteConversation({ conversationId: id });
    expect((await failure(svc.getConversationMembers({ tenantId: w.tenantId, conversationId: id }))).code).toBe(Code.NotFound);
  });

  it("ListMemberships pages a user's current memberships by conversation id, without deleted ones", async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id);
    await alice.removeMember({ conversationId: ids[0]!, userId: "bob" });
    await alice.deleteConversation({ conversationId: ids[1]! });
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await svc.listMemberships({ tenantId: w.tenantId, userId: "bob", pageSize: 2, pageToken });
      expect(page.memberships.length).toBeLessThanOrEqual(2);
      seen.push(...page.memberships.map((m) => m.conversationId));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual(ids.slice(2).sort());
    expect((await svc.listMemberships({ tenantId: randomUUID(), userId: "bob" })).memberships).toEqual([]);
  });

  it("SyncInternal returns the stored log without per-user visibility, in pages", async () => {
    const id = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    for (let i = 0; i < 4; i++) await bob.sendMessage({ conversationId: id, clientMessageId: `m${i}`, text: `t${i}` });
    const page = await svc.syncInternal({ tenantId: w.tenantId, conversationId: id, afterSeq: 1n, limit: 2 });
    expect(page.events.map((e) => Number(e.seq))).toEqual([2, 3]);
    expect(page).toMatchObject({ hasMore: true, headSeq: 5n, firstAvailableSeq: 1n });
    const rest = await svc.syncInternal({ tenantId: w.tenantId, conversationId: id, afterSeq: 3n });
    expect(rest.events.map((e) => e.payload.case)).toEqual(["messageCreated", "messageCreated"]);
    expect(rest.hasMore).toBe(false);
    // Deleted conversations stay readable to services (projections see the deletion event).
    await alice.deleteConversation({ conversationId: id });
    const tail = await svc.syncInternal({ tenantId: w.tenantId, conversationId: id, afterSeq: 5n });
    expect(tail.events.map((e) => e.payload.case)).toEqual(["conversationDeleted"]);
    expect((await failure(svc.syncInternal({ tenantId: randomUUID(), conversationId: id }))).code).toBe(Code.NotFound);
    expect((await failure(svc.syncInternal({ tenantId: w.tenantId, conversationId: newId() }))).code).toBe(Code.NotFound);
  });
});
