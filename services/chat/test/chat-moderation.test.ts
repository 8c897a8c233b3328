import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { ConversationType, JoinPolicy } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MemberRole, MemberState } from "@caas/gen/caas/chat/v1/member_pb.js";
import { createMemoryRateLimiter } from "@caas/shared/rate-limiting/memory";
import { DEFAULT_POLICY, withGrants } from "@caas/shared/identity/policy";
import { FakeClock } from "@caas/shared/clock";
import { PageTokenCodec } from "@caas/shared/page-token";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChatServiceImpl } from "../src/chat-service.js";
import { openChatStores, type ChatStores } from "../src/chat-stores.js";
import type { UserStateRecord } from "../src/user-state.js";
import { expectCode, failure } from "./support/expect.js";
import { asPrincipal, sqliteWorld, userPrincipal, type Tier1Client, type World } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-moderation-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OTHER = "0190d2a4-5b6c-7d8e-9f01-23456789abcd";

describe("moderation (tier 1: the class)", () => {
  let w: World;
  let alice: Tier1Client;
  let bob: Tier1Client;
  let carol: Tier1Client;
  let dave: Tier1Client;
  let conv: string;

  beforeEach(async () => {
    w = await sqliteWorld(dir);
    [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map((u) => w.as(u)) as [Tier1Client, Tier1Client, Tier1Client, Tier1Client];
    // alice owns; carol is an admin; bob and dave are members.
    conv = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob", "dave"], joinPolicy: JoinPolicy.OPEN })).conversation!.id;
    await alice.addMembers({ conversationId: conv, userIds: ["carol"], role: MemberRole.ADMIN });
  });
  afterEach(() => w.close());

  const send = (c: Tier1Client, key: string, conversationId = conv) => c.sendMessage({ conversationId, clientMessageId: key, text: key });
  const eventsAfter = async (seq: bigint) => (await alice.sync({ conversationId: conv, afterSeq: seq })).events;
  const head = async () => (await alice.sync({ conversationId: conv })).headSeq;
  const moderator = (userId: string) => asPrincipal(w.instance.impl, { ...userPrincipal(w.tenantId, userId), roles: ["moderator"] } as never);

  describe("MuteMember / UnmuteMember", () => {
    it("lets owners mute anyone but owners and admins mute members only", async () => {
      await expectCode(bob.muteMember({ conversationId: conv, userId: "dave" }), Code.PermissionDenied);
      await expectCode(carol.muteMember({ conversationId: conv, userId: "alice" }), Code.PermissionDenied);
      const f = await failure(carol.muteMember({ conversationId: conv, userId: "alice" }));
      expect(f.message).toMatch(/owners cannot be muted/);
      const self = await failure(bob.muteMember({ conversationId: conv, userId: "bob" }));
      expect(self.code).toBe(Code.InvalidArgument);
      await expect(carol.muteMember({ conversationId: conv, userId: "bob" })).resolves.toBeDefined();
      await expectCode(w.as("erin").muteMember({ conversationId: conv, userId: "dave" }), Code.NotFound);
      // An admin cannot mute another admin; the owner can.
      await alice.addMembers({ conversationId: conv, userIds: ["frank"], role: MemberRole.ADMIN });
      await expectCode(carol.muteMember({ conversationId: conv, userId: "frank" }), Code.PermissionDenied);
      expect((await alice.muteMember({ conversationId: conv, userId: "frank" })).member?.state).toBe(MemberState.MUTED);
      await expectCode(alice.muteMember({ conversationId: conv, userId: "nobody" }), Code.NotFound);
    });

    it("keeps a muted member from sending and reacting (PERMISSION_DENIED) but not from reading; the mute and unmute are events in Sync", async () => {
      const msg = (await send(dave, "m1")).messageId;
      const before = await head();
      const muted = await carol.muteMember({ conversationId: conv, userId: "bob", reason: "spam" });
      expect(muted.member).toMatchObject({ userId: "bob", state: MemberState.MUTED, role: MemberRole.MEMBER });
      expect(muted.member?.stateExpireTime).toBeUndefined();
      const refused = await failure(send(bob, "m2"));
      expect(refused.code).toBe(Code.PermissionDenied);
      expect(refused.message).toMatch(/muted/);
      await expectCode(bob.addReaction({ conversationId: conv, messageId: msg, reaction: "👍" }), Code.PermissionDenied);
      expect((await bob.listMessages({ conversationId: conv })).messages.map((m) => m.text)).toEqual(["m1"]);
      // Muting again changes nothing.
      await carol.muteMember({ conversationId: conv, userId: "bob" });
      expect(await head()).toBe(before + 1n);
      await carol.unmuteMember({ conversationId: conv, userId: "bob" });
      await carol.unmuteMember({ conversationId: conv, userId: "bob" });
      await send(bob, "m3");
      const events = await eventsAfter(before);
      expect(events.map((e) => [e.payload.case, e.actorId])).toEqual([
        ["memberMuted", "carol"],
        ["memberUnmuted", "carol"],
        ["messageCreated", "bob"],
      ]);
      expect(events[0]?.payload.value).toMatchObject({ userId: "bob", reason: "spam" });
    });

    it("ends a timed mute at its expiry (the clock), with the expiry shown and in the event", async () => {
      const res = await alice.muteMember({ conversationId: conv, userId: "bob", duration: { seconds: 60n } });
      const expireMs = w.clock.nowMs() + 60_000;
      expect(Number(res.member!.stateExpireTime!.seconds) * 1000).toBe(Math.floor(expireMs / 1000) * 1000);
      await expectCode(send(bob, "t1"), Code.PermissionDenied);
      w.clock.advance(60_001);
      await expect(send(bob, "t2")).resolves.toMatchObject({ duplicate: false });
      const muted = (await alice.sync({ conversationId: conv })).events.find((e) => e.payload.case === "memberMuted");
      expect(muted?.payload.value).toHaveProperty("expireTime");
      await expectCode(alice.muteMember({ conversationId: conv, userId: "bob", duration: { seconds: 366n * 86400n } }), Code.InvalidArgument);
    });
  });

  describe("BanMember / UnbanMember", () => {
    it("removes a banned member, who cannot rejoin, be added back or accept an invite until unbanned", async () => {
      const before = await head();
      const { code } = (await alice.createInvite({ conversationId: conv })).invite!;
      const banned = await carol.banMember({ conversationId: conv, userId: "bob", reason: "abuse" });
      expect(banned.member).toMatchObject({ userId: "bob", state: MemberState.BANNED });
      // Removed: an OPEN conversation still shows, but without membership.
      expect((await bob.getConversation({ conversationId: conv })).membership).toBeUndefined();
      await expectCode(send(bob, "b1"), Code.NotFound);
      const join = await failure(bob.joinConversation({ conversationId: conv }));
      expect(join.code).toBe(Code.PermissionDenied);
      expect(join.message).toMatch(/banned/);
      await expectCode(alice.addMembers({ conversationId: conv, userIds: ["bob"] }), Code.FailedPrecondition);
      await expectCode(bob.acceptInvite({ code }), Code.PermissionDenied);
      const bans = await alice.listMembers({ conversationId: conv, state: MemberState.BANNED });
      expect(bans.members.map((m) => [m.userId, m.state])).toEqual([["bob", MemberState.BANNED]]);
      expect((await alice.listMembers({ conversationId: conv })).members.map((m) => m.userId)).not.toContain("bob");
      await expectCode(dave.listMembers({ conversationId: conv, state: MemberState.BANNED }), Code.PermissionDenied);

      await carol.unbanMember({ conversationId: conv, userId: "bob" });
      await carol.unbanMember({ conversationId: conv, userId: "bob" });
      expect((await alice.listMembers({ conversationId: conv, state: MemberState.BANNED })).members).toEqual([]);
      await bob.joinConversation({ conversationId: conv });
      await send(bob, "b2");
      const events = await eventsAfter(before);
      expect(events.map((e) => e.payload.case)).toEqual(["memberBanned", "memberUnbanned", "memberJoined", "messageCreated"]);
      expect(events[0]?.payload.value).toMatchObject({ userId: "bob", reason: "abuse" });
    });

    it("bans users who are not members, follows the rank rules, and refuses DIRECT conversations", async () => {
      await alice.banMember({ conversationId: conv, userId: "mallory" });
      await expectCode(w.as("mallory").joinConversation({ conversationId: conv }), Code.PermissionDenied);
      await expectCode(carol.banMember({ conversationId: conv, userId: "alice" }), Code.PermissionDenied);
      await expectCode(bob.banMember({ conversationId: conv, userId: "dave" }), Code.PermissionDenied);
      const dm = (await alice.createConversation({ type: ConversationType.DIRECT, memberIds: ["bob"] })).conversation!.id;
      await expectCode(alice.banMember({ conversationId: dm, userId: "bob" }), Code.FailedPrecondition);
      await expectCode(alice.muteMember({ conversationId: dm, userId: "bob" }), Code.FailedPrecondition);
    });
  });

  describe("FreezeConversation / UnfreezeConversation", () => {
    it("refuses sends, edits and reactions of members with FAILED_PRECONDITION; owners and admins still write", async () => {
      const msg = (await send(bob, "f1")).messageId;
      await expectCode(bob.freezeConversation({ conversationId: conv }), Code.PermissionDenied);
      const before = await head();
      const frozen = await carol.freezeConversation({ conversationId: conv, reason: "cool down" });
      expect(frozen.conversation?.frozen).toBe(true);
      await carol.freezeConversation({ conversationId: conv });
      const refused = await failure(send(bob, "f2"));
      expect(refused.code).toBe(Code.FailedPrecondition);
      expect(refused.message).toMatch(/frozen/);
      await expectCode(bob.editMessage({ conversationId: conv, messageId: msg, text: "edited" }), Code.FailedPrecondition);
      await expectCode(dave.addReaction({ conversationId: conv, messageId: msg, reaction: "👍" }), Code.FailedPrecondition);
      await send(carol, "f3");
      expect((await bob.getConversation({ conversationId: conv })).conversation?.frozen).toBe(true);
      expect((await carol.unfreezeConversation({ conversationId: conv })).conversation?.frozen).toBe(false);
      await send(bob, "f4");
      expect((await eventsAfter(before)).map((e) => e.payload.case)).toEqual(["conversationFrozen", "messageCreated", "conversationUnfrozen", "messageCreated"]);
      expect((await eventsAfter(before))[0]?.payload.value).toMatchObject({ reason: "cool down" });
    });
  });

  describe("tenant moderators (ABAC tenant roles)", () => {
    it("moderate any conversation of their tenant without being members, but cannot read it", async () => {
      const mod = moderator("mod");
      expect((await mod.freezeConversation({ conversationId: conv })).conversation?.frozen).toBe(true);
      await mod.unfreezeConversation({ conversationId: conv });
      await mod.banMember({ conversationId: conv, userId: "carol" });
      await expectCode(mod.banMember({ conversationId: conv, userId: "alice" }), Code.PermissionDenied);
      const msg = (await send(dave, "x1")).messageId;
      await mod.deleteMessage({ conversationId: conv, messageId: msg });
      expect((await dave.getMessage({ conversationId: conv, messageId: msg })).message?.deleted).toBe(true);
      // A closed conversation stays invisible to a plain non-member, and moderation is not reading.
      const closed = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
      await expectCode(mod.sync({ conversationId: closed }), Code.NotFound);
      await expectCode(w.as("erin").deleteMessage({ conversationId: closed, messageId: msg }), Code.NotFound);
      await expectCode(w.as("erin").freezeConversation({ conversationId: closed }), Code.NotFound);
      await mod.muteMember({ conversationId: closed, userId: "bob" });
      await expectCode(send(bob, "x2", closed), Code.PermissionDenied);
    });
  });

  describe("BlockUser / UnblockUser / ListBlockedUsers", () => {
    it("keeps two users from creating or writing to a DIRECT conversation either way", async () => {
      const dm = (await alice.createConversation({ type: ConversationType.DIRECT, memberIds: ["bob"] })).conversation!.id;
      await bob.blockUser({ userId: "alice" });
      await bob.blockUser({ userId: "alice" });
      for (const [c, key] of [
        [alice, "d1"],
        [bob, "d2"],
      ] as const) {
        const f = await failure(send(c, key, dm));
        expect(f.code).toBe(Code.PermissionDenied);
        expect(f.message).toMatch(/blocked/);
      }
      await expectCode(alice.createConversation({ type: ConversationType.DIRECT, memberIds: ["bob"] }), Code.PermissionDenied);
      await expectCode(bob.createConversation({ type: ConversationType.DIRECT, memberIds: ["alice"] }), Code.PermissionDenied);
      // Groups are not filtered.
      await send(alice, "g1");
      await send(bob, "g2");
      expect((await bob.listBlockedUsers({})).blockedUsers.map((b) => b.userId)).toEqual(["alice"]);
      expect((await alice.listBlockedUsers({})).blockedUsers).toEqual([]);
      await bob.unblockUser({ userId: "alice" });
      await bob.unblockUser({ userId: "alice" });
      await send(alice, "d3", dm);
      await expectCode(bob.blockUser({ userId: "bob" }), Code.InvalidArgument);
      await expectCode(bob.blockUser({ userId: "not valid!" }), Code.InvalidArgument);
    });

    it("pages the blocked users newest first with tokens bound to the caller", async () => {
      for (const u of ["u1", "u2", "u3"]) {
        await alice.blockUser({ userId: u });
        w.clock.advance(1000);
      }
      const p1 = await alice.listBlockedUsers({ pageSize: 2 });
      expect(p1.blockedUsers.map((b) => b.userId)).toEqual(["u3", "u2"]);
      const p2 = await alice.listBlockedUsers({ pageSize: 2, pageToken: p1.nextPageToken });
      expect(p2.blockedUsers.map((b) => b.userId)).toEqual(["u1"]);
      expect(p2.nextPageToken).toBe("");
      await expectCode(bob.listBlockedUsers({ pageToken: p1.nextPageToken }), Code.InvalidArgument);
    });
  });

  describe("BOLA probes: ids of another tenant or of a conversation the caller cannot see are NOT_FOUND", () => {
    it("answers every moderation RPC with NOT_FOUND for another tenant's conversation and for unknown ids", async () => {
      const stranger = w.as("alice", "other-tenant");
      const mod = asPrincipal(w.instance.impl, { ...userPrincipal("other-tenant", "mod"), roles: ["moderator"] } as never);
      for (const c of [stranger, mod]) {
        for (const id of [conv, OTHER]) {
          await expectCode(c.muteMember({ conversationId: id, userId: "bob" }), Code.NotFound);
          await expectCode(c.unmuteMember({ conversationId: id, userId: "bob" }), Code.NotFound);
          await expectCode(c.banMember({ conversationId: id, userId: "bob" }), Code.NotFound);
          await expectCode(c.unbanMember({ conversationId: id, userId: "bob" }), Code.NotFound);
          await expectCode(c.freezeConversation({ conversationId: id }), Code.NotFound);
          await expectCode(c.unfreezeConversation({ conversationId: id }), Code.NotFound);
          await expectCode(c.listMembers({ conversationId: id, state: MemberState.BANNED }), Code.NotFound);
        }
      }
      // A conversation of the same tenant the caller is not in (not OPEN).
      const closed = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
      await expectCode(dave.muteMember({ conversationId: closed, userId: "bob" }), Code.NotFound);
      await expectCode(dave.banMember({ conversationId: closed, userId: "bob" }), Code.NotFound);
      await expectCode(dave.freezeConversation({ conversationId: closed }), Code.NotFound);
      await expectCode(dave.unfreezeConversation({ conversationId: closed }), Code.NotFound);
      await expectCode(dave.unbanMember({ conversationId: closed, userId: "bob" }), Code.NotFound);
      await expectCode(dave.unmuteMember({ conversationId: closed, userId: "bob" }), Code.NotFound);
      // Nothing happened to the real conversation.
      expect((await alice.getConversation({ conversationId: conv })).conversation?.frozen).toBe(false);
      await send(bob, "still-here");
    });

    it("keeps blocks within the tenant: the same user ids in another tenant are other users", async () => {
      await w.as("bob").blockUser({ userId: "alice" });
      const a2 = w.as("alice", "other-tenant");
      const dm = (await a2.createConversation({ type: ConversationType.DIRECT, memberIds: ["bob"] })).conversation!.id;
      await a2.sendMessage({ conversationId: dm, clientMessageId: "x", text: "hi" });
      expect((await w.as("bob", "other-tenant").listBlockedUsers({})).blockedUsers).toEqual([]);
    });
  });
});

describe("moderation wiring: per-tenant grants and the user state topic", () => {
  let stores: ChatStores;
  const published: UserStateRecord[] = [];
  let impl: ChatServiceImpl;
  const tenantId = `t-${randomUUID()}`;

  beforeEach(async () => {
    const clock = new FakeClock();
    stores = await openChatStores({ kind: "sqlite", path: join(dir, `grants-${randomUUID()}.db`) }, { clock });
    impl = new ChatServiceImpl({
      stores,
      clock,
      pageTokens: new PageTokenCodec(randomBytes(32)),
      rateLimiter: createMemoryRateLimiter({ clock }),
      publishUserState: async (r) => {
        published.push(r);
      },
      // This tenant lets every user pin; others keep the defaults.
      policyFor: (t) => (t === tenantId ? withGrants(DEFAULT_POLICY, [{ role: "user", actions: ["message.pin"] }]) : DEFAULT_POLICY),
    });
  });
  afterEach(() => stores.close());

  const as = (t: string, u: string, roles: string[] = ["user"]) => asPrincipal(impl, { ...userPrincipal(t, u), roles } as never);

  it("applies a tenant's grants to its users only", async () => {
    for (const [t, expected] of [
      [tenantId, "ok"],
      [`t-${randomUUID()}`, "denied"],
    ] as const) {
      const conv = (await as(t, "alice").createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
      const msg = (await as(t, "bob").sendMessage({ conversationId: conv, clientMessageId: "k", text: "pin me" })).messageId;
      const pin = as(t, "bob").pinMessage({ conversationId: conv, messageId: msg });
      if (expected === "ok") await expect(pin).resolves.toBeDefined();
      else await expectCode(pin, Code.PermissionDenied);
    }
  });

  it("publishes UserBlocked and UserUnblocked keyed by tenant and blocker, once per change", async () => {
    published.length = 0;
    await as(tenantId, "alice").blockUser({ userId: "bob" });
    await as(tenantId, "alice").unblockUser({ userId: "bob" });
    await as(tenantId, "alice").unblockUser({ userId: "bob" });
    expect(published.map((r) => [r.key, r.value.payload.case, (r.value.payload.value as { blockedUserId: string }).blockedUserId])).toEqual([
      [`${tenantId}/alice`, "userBlocked", "bob"],
      [`${tenantId}/alice`, "userUnblocked", "bob"],
    ]);
  });
});
