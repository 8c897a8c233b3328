import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { ConversationType, JoinPolicy } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MemberRole } from "@caas/gen/caas/chat/v1/member_pb.js";
import { newId } from "@caas/shared/ids";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectCode } from "./support/expect.js";
import { sqliteWorld, type Tier1Client, type World } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-settings-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GROUP = ConversationType.GROUP;

describe("ChatService conversation settings, deletion and joining (tier 1: the class)", () => {
  let w: World;
  let alice: Tier1Client;
  let bob: Tier1Client;
  let carol: Tier1Client;
  let mallory: Tier1Client;

  beforeEach(async () => {
    w = await sqliteWorld(dir, { maxMembers: 4 });
    [alice, bob, carol] = ["alice", "bob", "carol"].map((u) => w.as(u)) as [Tier1Client, Tier1Client, Tier1Client];
    mallory = w.as("alice", "other-tenant-" + newId().slice(-8));
  });
  afterEach(() => w.close());

  async function group(o: { joinPolicy?: JoinPolicy; members?: string[] } = {}) {
    const { conversation } = await alice.createConversation({ type: GROUP, memberIds: o.members ?? ["bob"], title: "team", joinPolicy: o.joinPolicy ?? JoinPolicy.UNSPECIFIED });
    return conversation!.id;
  }

  async function events(client: Tier1Client, conversationId: string) {
    const { events } = await client.sync({ conversationId });
    return events.map((e) => [Number(e.seq), e.payload.case, e.actorId]);
  }

  it("updates the fields named in the mask with one ConversationUpdated carrying only them", async () => {
    const id = await group();
    w.clock.advance(1000);
    const res = await alice.updateConversation({
      conversation: { id, title: "renamed", avatarUrl: "https://img.example/a.png", custom: { topic: "x" }, joinPolicy: JoinPolicy.OPEN },
      updateMask: { paths: ["title", "custom"] },
    });
    expect(res.conversation).toMatchObject({ id, title: "renamed", avatarUrl: "", custom: { topic: "x" }, joinPolicy: JoinPolicy.INVITE_ONLY, lastSeq: 2n });
    expect(res.conversation!.updateTime!.seconds).toBeGreaterThan(res.conversation!.createTime!.seconds - 1n);
    const { events: log } = await bob.sync({ conversationId: id, afterSeq: 1n });
    expect(log).toHaveLength(1);
    const ev = log[0]!;
    expect(ev).toMatchObject({ seq: 2n, actorId: "alice" });
    expect(ev.payload.case).toBe("conversationUpdated");
    if (ev.payload.case === "conversationUpdated") {
      expect(ev.payload.value.updateMask?.paths).toEqual(["title", "custom"]);
      expect(ev.payload.value.conversation).toMatchObject({ id, title: "renamed", avatarUrl: "", custom: { topic: "x" } });
    }
    // Clearing custom and changing the join policy; bob sees the new state.
    await alice.updateConversation({ conversation: { id, joinPolicy: JoinPolicy.OPEN }, updateMask: { paths: ["custom", "join_policy", "avatar_url"] } });
    const got = (await bob.getConversation({ conversationId: id })).conversation!;
    expect(got).toMatchObject({ title: "renamed", joinPolicy: JoinPolicy.OPEN, avatarUrl: "" });
    expect(got.custom).toBeUndefined();
  });

  it("lets owners and admins update; members get PERMISSION_DENIED, strangers and other tenants NOT_FOUND", async () => {
    const id = await group({ members: ["bob", "carol"] });
    const upd = (c: Tier1Client, title: string) => c.updateConversation({ conversation: { id, title }, updateMask: { paths: ["title"] } });
    await expectCode(upd(bob, "x"), Code.PermissionDenied);
    await alice.updateMemberRole({ conversationId: id, userId: "bob", role: MemberRole.ADMIN });
    await upd(bob, "by admin");
    await expectCode(upd(w.as("dave"), "x"), Code.NotFound);
    await expectCode(upd(mallory, "x"), Code.NotFound);
    await expectCode(mallory.archiveConversation({ conversationId: id }), Code.NotFound);
    await expectCode(mallory.deleteConversation({ conversationId: id }), Code.NotFound);
    await expectCode(mallory.joinConversation({ conversationId: id }), Code.NotFound);
    expect((await carol.getConversation({ conversationId: id })).conversation!.title).toBe("by admin");
  });

  it("rejects bad updates: no mask, unknown paths, long titles, bad URLs, CLOSED policy, DIRECT conversations", async () => {
    const id = await group();
    await expectCode(alice.updateConversation({ conversation: { id, title: "x" } }), Code.InvalidArgument);
    await expectCode(alice.updateConversation({ updateMask: { paths: ["title"] } }), Code.InvalidArgument);
    await expectCode(alice.updateConversation({ conversation: { id: "nope", title: "x" }, updateMask: { paths: ["title"] } }), Code.InvalidArgument);
    await expectCode(alice.updateConversation({ conversation: { id, title: "x" }, updateMask: { paths: ["created_by"] } }), Code.InvalidArgument);
    await expectCode(alice.updateConversation({ conversation: { id, title: "x".repeat(129) }, updateMask: { paths: ["title"] } }), Code.InvalidArgument);
    await expectCode(alice.updateConversation({ conversation: { id, avatarUrl: "not a url" }, updateMask: { paths: ["avatar_url"] } }), Code.InvalidArgument);
    await expectCode(alice.updateConversation({ conversation: { id, joinPolicy: JoinPolicy.CLOSED }, updateMask: { paths: ["join_policy"] } }), Code.InvalidArgument);
    await expectCode(alice.updateConversation({ conversation: { id, custom: { big: "x".repeat(9000) } }, updateMask: { paths: ["custom"] } }), Code.InvalidArgument);
    const direct = (await alice.createConversation({ type: ConversationType.DIRECT, memberIds: ["bob"] })).conversation!.id;
    await expectCode(alice.updateConversation({ conversation: { id: direct, title: "x" }, updateMask: { paths: ["title"] } }), Code.FailedPrecondition);
    expect(await events(alice, id)).toEqual([[1, "conversationCreated", "alice"]]);
  });

  it("archives and unarchives idempotently: read-only while archived and hidden from default lists", async () => {
    const id = await group();
    await expectCode(bob.archiveConversation({ conversationId: id }), Code.PermissionDenied);
    const a = await alice.archiveConversation({ conversationId: id });
    expect(a.conversation).toMatchObject({ archived: true, lastSeq: 2n });
    expect((await alice.archiveConversation({ conversationId: id })).conversation).toMatchObject({ archived: true, lastSeq: 2n });
    await expectCode(bob.sendMessage({ conversationId: id, clientMessageId: "m1", text: "hi" }), Code.FailedPrecondition);
    await expectCode(alice.updateConversation({ conversation: { id, title: "x" }, updateMask: { paths: ["title"] } }), Code.FailedPrecondition);
    expect((await bob.listConversations({})).conversations).toHaveLength(0);
    expect((await bob.listConversations({ includeArchived: true })).conversations.map((c) => c.conversation!.id)).toEqual([id]);
    const u = await alice.unarchiveConversation({ conversationId: id });
    expect(u.conversation).toMatchObject({ archived: false, lastSeq: 3n });
    await alice.unarchiveConversation({ conversationId: id });
    await bob.sendMessage({ conversationId: id, clientMessageId: "m1", text: "hi" });
    expect(await events(bob, id)).toEqual([
      [1, "conversationCreated", "alice"],
      [2, "conversationArchived", "alice"],
      [3, "conversationUnarchived", "alice"],
      [4, "messageCreated", "bob"],
    ]);
    await expectCode(w.as("dave").unarchiveConversation({ conversationId: id }), Code.NotFound);
    await expectCode(alice.archiveConversation({ conversationId: "x" }), Code.InvalidArgument);
  });

  it("deletes for everyone (owners only): NOT_FOUND afterwards except Sync of former members up to the deletion", async () => {
    const id = await group({ members: ["bob", "carol"] });
    await alice.updateMemberRole({ conversationId: id, userId: "bob", role: MemberRole.ADMIN });
    await carol.sendMessage({ conversationId: id, clientMessageId: "m1", text: "hi" });
    await alice.removeMember({ conversationId: id, userId: "carol" });
    await expectCode(bob.deleteConversation({ conversationId: id }), Code.PermissionDenied);
    await expectCode(carol.deleteConversation({ conversationId: id }), Code.NotFound);
    await alice.deleteConversation({ conversationId: id });
    for (const c of [alice, bob, carol]) {
      await expectCode(c.getConversation({ conversationId: id }), Code.NotFound);
      await expectCode(c.listMessages({ conversationId: id }), Code.NotFound);
      await expectCode(c.sendMessage({ conversationId: id, clientMessageId: "m2", text: "x" }), Code.NotFound);
      await expectCode(c.deleteConversation({ conversationId: id }), Code.NotFound);
      await expectCode(c.joinConversation({ conversationId: id }), Code.NotFound);
      expect((await c.listConversations({ includeArchived: true })).conversations).toHaveLength(0);
      expect((await c.getUnreadCounts({})).totalUnreadCount).toBe(0);
    }
    const log = await events(bob, id);
    expect(log[log.length - 1]).toEqual([5, "conversationDeleted", "alice"]);
    // Carol left at seq 4 (removal): she syncs up to it, not to the deletion.
    const carolLog = await bob.sync({ conversationId: id });
    expect(carolLog.headSeq).toBe(5n);
    expect((await carol.sync({ conversationId: id })).headSeq).toBe(4n);
    await expectCode(w.as("dave").sync({ conversationId: id }), Code.NotFound);
    await expectCode(mallory.sync({ conversationId: id }), Code.NotFound);
    // GetChanges tells members about the deletion (its last event), with no conversation view.
    const changes = await bob.getChanges({});
    const mine = changes.conversations.find((c) => c.conversationId === id);
    expect(mine?.events.at(-1)?.payload.case).toBe("conversationDeleted");
    expect(mine?.conversation).toBeUndefined();
  });

  it("joins OPEN conversations only, idempotently, within the member limit", async () => {
    const open = await group({ joinPolicy: JoinPolicy.OPEN });
    const closed = await group();
    const res = await carol.joinConversation({ conversationId: open });
    expect(res.member).toMatchObject({ userId: "carol", role: MemberRole.MEMBER, joinedSeq: 2n });
    expect(res.conversation).toMatchObject({ id: open, memberCount: 3, lastSeq: 2n });
    const again = await carol.joinConversation({ conversationId: open });
    expect(again.member).toMatchObject({ joinedSeq: 2n });
    expect(await events(carol, open)).toEqual([
      [1, "conversationCreated", "alice"],
      [2, "memberJoined", "carol"],
    ]);
    await expectCode(carol.joinConversation({ conversationId: closed }), Code.NotFound);
    await expectCode(carol.joinConversation({ conversationId: newId() }), Code.NotFound);
    await expectCode(mallory.joinConversation({ conversationId: open }), Code.NotFound);
    await expectCode(carol.joinConversation({ conversationId: "x" }), Code.InvalidArgument);
    // Members of a closed conversation re-joining is a no-op.
    expect((await bob.joinConversation({ conversationId: closed })).member).toMatchObject({ userId: "bob" });
    // Leaving and joining again starts a new membership period.
    await carol.leaveConversation({ conversationId: open });
    expect((await carol.joinConversation({ conversationId: open })).member).toMatchObject({ joinedSeq: 4n });
    await w.as("dave").joinConversation({ conversationId: open });
    await expectCode(w.as("erin").joinConversation({ conversationId: open }), Code.FailedPrecondition);
    await alice.archiveConversation({ conversationId: open });
    await carol.leaveConversation({ conversationId: open });
    await expectCode(carol.joinConversation({ conversationId: open }), Code.FailedPrecondition);
  });
  it("invites: owners and admins create codes, users join with them once, limits and revocation hold", async () => {
    const id = await group({ members: ["bob"] });
    await expectCode(bob.createInvite({ conversationId: id }), Code.PermissionDenied);
    await expectCode(w.as("dave").createInvite({ conversationId: id }), Code.NotFound);
    await expectCode(mallory.createInvite({ conversationId: id }), Code.NotFound);
    await expectCode(alice.createInvite({ conversationId: id, ttl: { seconds: 31n * 24n * 3600n } }), Code.InvalidArgument);
    await expectCode(alice.createInvite({ conversationId: id, maxUses: -1 }), Code.InvalidArgument);
    const { invite } = await alice.createInvite({ conversationId: id, maxUses: 2, ttl: { seconds: 3600n } });
    expect(invite).toMatchObject({ conversationId: id, createdBy: "alice", maxUses: 2, useCount: 0 });
    expect(invite!.code).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(Number(invite!.expireTime!.seconds - invite!.createTime!.seconds)).toBe(3600);
    const code = invite!.code;
    const joined = await carol.acceptInvite({ code });
    expect(joined.member).toMatchObject({ userId: "carol", role: MemberRole.MEMBER, joinedSeq: 2n });
    expect(joined.conversation).toMatchObject({ id, memberCount: 3 });
    // Idempotent for members; members already in take no use.
    expect((await carol.acceptInvite({ code })).member).toMatchObject({ joinedSeq: 2n });
    expect((await bob.acceptInvite({ code })).member).toMatchObject({ userId: "bob" });
    const { events: log } = await carol.sync({ conversationId: id, afterSeq: 1n });
    expect(log.map((e) => e.payload.case)).toEqual(["memberJoined"]);
    if (log[0]!.payload.case === "memberJoined") expect(log[0]!.payload.value.inviteId).toBe(invite!.id);
    // Other tenants and unknown codes: NOT_FOUND; bad codes: INVALID_ARGUMENT.
    await expectCode(mallory.acceptInvite({ code }), Code.NotFound);
    await expectCode(carol.acceptInvite({ code: "x".repeat(32) }), Code.NotFound);
    await expectCode(carol.acceptInvite({ code: "short" }), Code.InvalidArgument);
    // Two uses: dave takes the last, erin finds none left.
    await w.as("dave").acceptInvite({ code });
    await expectCode(w.as("erin").acceptInvite({ code }), Code.FailedPrecondition);
    // Expiry.
    const { invite: brief } = await alice.createInvite({ conversationId: id, ttl: { seconds: 60n } });
    w.clock.advance(61_000);
    await expectCode(w.as("erin").acceptInvite({ code: brief!.code }), Code.NotFound);
  });

  it("invites: revoked by owners, admins or the creator only; DIRECT conversations take none; any member invites to OPEN ones", async () => {
    const open = await group({ joinPolicy: JoinPolicy.OPEN, members: ["bob", "carol"] });
    const byBob = (await bob.createInvite({ conversationId: open })).invite!;
    const byAlice = (await alice.createInvite({ conversationId: open })).invite!;
    await expectCode(carol.revokeInvite({ conversationId: open, inviteId: byAlice.id }), Code.PermissionDenied);
    await expectCode(mallory.revokeInvite({ conversationId: open, inviteId: byAlice.id }), Code.NotFound);
    const other = await group();
    await expectCode(alice.revokeInvite({ conversationId: other, inviteId: byAlice.id }), Code.NotFound);
    await expectCode(alice.revokeInvite({ conversationId: open, inviteId: newId() }), Code.NotFound);
    const revoked = (await bob.revokeInvite({ conversationId: open, inviteId: byBob.id })).invite!;
    expect(revoked.revokeTime).toBeDefined();
    expect(revoked.code).toBe("");
    const again = (await alice.revokeInvite({ conversationId: open, inviteId: byBob.id })).invite!;
    expect(again.revokeTime).toEqual(revoked.revokeTime);
    await expectCode(w.as("dave").acceptInvite({ code: byBob.code }), Code.NotFound);
    await alice.revokeInvite({ conversationId: open, inviteId: byAlice.id });
    await expectCode(w.as("dave").acceptInvite({ code: byAlice.code }), Code.NotFound);
    const direct = (await alice.createConversation({ type: ConversationType.DIRECT, memberIds: ["bob"] })).conversation!.id;
    await expectCode(alice.createInvite({ conversationId: direct }), Code.FailedPrecondition);
    // A deleted conversation's invites lead nowhere.
    const gone = await group();
    const code = (await alice.createInvite({ conversationId: gone })).invite!.code;
    await alice.deleteConversation({ conversationId: gone });
    await expectCode(carol.acceptInvite({ code }), Code.NotFound);
  });
});
