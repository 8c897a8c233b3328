import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, createContextValues, createHandlerContext } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { ChatService, CreateConversationRequestSchema } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType, JoinPolicy } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MemberRole, MemberState } from "@caas/gen/caas/chat/v1/member_pb.js";
import { principalKey } from "@caas/shared/context";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectCode } from "./support/expect.js";
import { sqliteWorld, type Tier1Client, type World } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-conv-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GROUP = ConversationType.GROUP;
const DIRECT = ConversationType.DIRECT;
const CHANNEL = ConversationType.CHANNEL;

describe("ChatService conversations and membership (tier 1: the class)", () => {
  let w: World;
  let alice: Tier1Client;
  let bob: Tier1Client;
  let carol: Tier1Client;
  let dave: Tier1Client;

  beforeEach(async () => {
    w = await sqliteWorld(dir, { maxMembers: 6 });
    [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map((u) => w.as(u)) as [Tier1Client, Tier1Client, Tier1Client, Tier1Client];
  });
  afterEach(() => w.close());

  async function group(members: string[] = ["bob"], o: { type?: ConversationType; joinPolicy?: JoinPolicy } = {}) {
    const { conversation } = await alice.createConversation({ type: o.type ?? GROUP, memberIds: members, title: "team", joinPolicy: o.joinPolicy ?? JoinPolicy.UNSPECIFIED });
    return conversation!.id;
  }

  async function payloads(client: Tier1Client, conversationId: string) {
    const { events } = await client.sync({ conversationId });
    return events.map((e) => [Number(e.seq), e.payload.case, e.actorId]);
  }

  it("refuses callers without a user access token", async () => {
    const ctx = (principal: never) =>
      createHandlerContext({
        service: ChatService,
        method: ChatService.method.createConversation,
        protocolName: "grpc",
        requestMethod: "POST",
        url: "http://x/",
        contextValues: createContextValues().set(principalKey, principal),
      });
    const req = create(CreateConversationRequestSchema, { type: GROUP });
    await expectCode(w.instance.impl.createConversation(req, ctx({ kind: "anonymous" } as never)), Code.Unauthenticated);
    await expectCode(w.instance.impl.createConversation(req, ctx({ kind: "service", service: "socket" } as never)), Code.PermissionDenied);
    await expectCode(w.instance.impl.createConversation(req, ctx({ kind: "platform-admin" } as never)), Code.PermissionDenied);
  });

  it("creates a group with the caller as OWNER and ConversationCreated at seq 1 listing the members", async () => {
    w.clock.advance(5);
    const res = await alice.createConversation({ type: GROUP, memberIds: ["bob", "carol", "alice"], title: "team", custom: { color: "blue" } });
    expect(res.created).toBe(true);
    const c = res.conversation!;
    expect(c).toMatchObject({ type: GROUP, title: "team", createdBy: "alice", lastSeq: 1n, memberCount: 3, joinPolicy: JoinPolicy.INVITE_ONLY, custom: { color: "blue" } });
    const { events } = await alice.sync({ conversationId: c.id });
    expect(events).toHaveLength(1);
    const created = events[0]!;
    expect(created).toMatchObject({ seq: 1n, actorId: "alice", conversationId: c.id });
    expect(created.payload.case).toBe("conversationCreated");
    const members = created.payload.case === "conversationCreated" ? created.payload.value.members : [];
    expect(members.map((m) => [m.userId, m.role, m.joinedSeq])).toEqual([
      ["alice", MemberRole.OWNER, 1n],
      ["bob", MemberRole.MEMBER, 1n],
      ["carol", MemberRole.MEMBER, 1n],
    ]);
    const got = await bob.getConversation({ conversationId: c.id });
    expect(got.membership).toMatchObject({ userId: "bob", role: MemberRole.MEMBER, joinedSeq: 1n, state: MemberState.ACTIVE });
    expect(got.readState).toMatchObject({ lastReadSeq: 1n, unreadCount: 0 });
  });

  it("keeps one DIRECT conversation per pair, both members OWNERs, also under concurrent creation", async () => {
    const [x, y] = await Promise.all([alice.createConversation({ type: DIRECT, memberIds: ["bob"] }), bob.createConversation({ type: DIRECT, memberIds: ["alice"] })]);
    expect(x.conversation!.id).toBe(y.conversation!.id);
    expect([x.created, y.created].sort()).toEqual([false, true]);
    const again = await alice.createConversation({ type: DIRECT, memberIds: ["bob"] });
    expect(again).toMatchObject({ created: false, conversation: { id: x.conversation!.id, joinPolicy: JoinPolicy.CLOSED, memberCount: 2 } });
    expect(await payloads(alice, x.conversation!.id)).toEqual([[1, "conversationCreated", expect.any(String)]]);
    const { members } = await bob.listMembers({ conversationId: x.conversation!.id });
    expect(members.map((m) => [m.userId, m.role])).toEqual([
      ["alice", MemberRole.OWNER],
      ["bob", MemberRole.OWNER],
    ]);
    // Another pair is another conversation.
    const other = await alice.createConversation({ type: DIRECT, memberIds: ["carol"] });
    expect(other.conversation!.id).not.toBe(x.conversation!.id);
  });

  it("checks DIRECT and size rules", async () => {
    await expectCode(alice.createConversation({ type: DIRECT, memberIds: ["alice"] }), Code.InvalidArgument);
    await expectCode(alice.createConversation({ type: DIRECT, memberIds: ["bob", "carol"] }), Code.InvalidArgument);
    await expectCode(alice.createConversation({ type: DIRECT, memberIds: ["bob"], title: "hi" }), Code.InvalidArgument);
    await expectCode(alice.createConversation({ type: DIRECT, memberIds: ["bob"], joinPolicy: JoinPolicy.OPEN }), Code.InvalidArgument);
    await expectCode(alice.createConversation({ type: ConversationType.UNSPECIFIED }), Code.InvalidArgument);
    await expectCode(alice.createConversation({ type: GROUP, memberIds: ["bad id"] }), Code.InvalidArgument);
    await expectCode(alice.createConversation({ type: GROUP, custom: { blob: "x".repeat(9000) } }), Code.InvalidArgument);
  });

  it("shows a conversation to its members only: other users, tenants and unknown ids get NOT_FOUND", async () => {
    const id = await group();
    await expectCode(carol.getConversation({ conversationId: id }), Code.NotFound);
    await expectCode(w.as("bob", "someothertenant").getConversation({ conversationId: id }), Code.NotFound);
    await expectCode(alice.getConversation({ conversationId: "0190d2a4-5b6c-7d8e-9f01-23456789abcd" }), Code.NotFound);
    await expectCode(alice.getConversation({ conversationId: "not-a-uuid" }), Code.InvalidArgument);
    // OPEN conversations are visible to non-members, without a membership.
    const open = await group([], { joinPolicy: JoinPolicy.OPEN });
    const seen = await carol.getConversation({ conversationId: open });
    expect(seen.conversation?.id).toBe(open);
    expect(seen.membership).toBeUndefined();
    expect(seen.readState).toBeUndefined();
  });

  it("lists the caller's conversations by last activity with unread counts and bound page tokens", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      w.clock.advance(10);
      ids.push(await group(["bob"], { type: i === 3 ? CHANNEL : GROUP }));
    }
    await group(["carol"]); // not bob's
    w.clock.advance(10);
    await alice.sendMessage({ conversationId: ids[1]!, clientMessageId: "m1", text: "bump" });
    const page1 = await bob.listConversations({ pageSize: 2 });
    expect(page1.conversations.map((v) => v.conversation!.id)).toEqual([ids[1], ids[3]]);
    expect(page1.conversations[0]!.readState).toMatchObject({ unreadCount: 1, lastReadSeq: 1n });
    expect(page1.conversations[0]!.conversation!.lastMessage).toMatchObject({ senderId: "alice", textPreview: "bump", seq: 2n });
    expect(page1.conversations[0]!.membership?.userId).toBe("bob");
    const page2 = await bob.listConversations({ pageSize: 2, pageToken: page1.nextPageToken });
    expect(page2.conversations.map((v) => v.conversation!.id)).toEqual([ids[2], ids[0]]);
    expect(page2.nextPageToken).toBe("");
    // The token is bound to the query and the user.
    await expectCode(bob.listConversations({ pageSize: 2, pageToken: page1.nextPageToken, type: GROUP }), Code.InvalidArgument);
    await expectCode(alice.listConversations({ pageSize: 2, pageToken: page1.nextPageToken }), Code.InvalidArgument);
    await expectCode(bob.listConversations({ pageToken: "forged.token" }), Code.InvalidArgument);
    const channels = await bob.listConversations({ type: CHANNEL });
    expect(channels.conversations.map((v) => v.conversation!.id)).toEqual([ids[3]]);
    expect((await dave.listConversations({})).conversations).toEqual([]);
  });

  it("adds members with one MemberJoined each; existing members come back unchanged", async () => {
    const id = await group(["bob"]);
    const res = await alice.addMembers({ conversationId: id, userIds: ["carol", "bob", "dave"], role: MemberRole.ADMIN });
    expect(res.members.map((m) => [m.userId, m.role, m.joinedSeq])).toEqual([
      ["carol", MemberRole.ADMIN, 2n],
      ["bob", MemberRole.MEMBER, 1n],
      ["dave", MemberRole.ADMIN, 3n],
    ]);
    expect(await payloads(alice, id)).toEqual([
      [1, "conversationCreated", "alice"],
      [2, "memberJoined", "alice"],
      [3, "memberJoined", "alice"],
    ]);
    expect((await carol.getConversation({ conversationId: id })).readState).toMatchObject({ lastReadSeq: 2n, unreadCount: 0 });
    // A retry changes nothing.
    await alice.addMembers({ conversationId: id, userIds: ["carol"] });
    expect((await alice.sync({ conversationId: id })).headSeq).toBe(3n);
  });

  it("enforces who may add members, and the member limit", async () => {
    const id = await group(["bob", "carol"]);
    await expectCode(bob.addMembers({ conversationId: id, userIds: ["dave"] }), Code.PermissionDenied);
    await alice.updateMemberRole({ conversationId: id, userId: "bob", role: MemberRole.ADMIN });
    await expectCode(bob.addMembers({ conversationId: id, userIds: ["dave"], role: MemberRole.ADMIN }), Code.PermissionDenied);
    await bob.addMembers({ conversationId: id, userIds: ["dave"] });
    await expectCode(dave.addMembers({ conversationId: id, userIds: ["x1"] }), Code.PermissionDenied);
    await expectCode(w.as("eve").addMembers({ conversationId: id, userIds: ["eve"] }), Code.NotFound);
    await expectCode(alice.addMembers({ conversationId: id, userIds: ["x1", "x2", "x3"] }), Code.FailedPrecondition);
    await alice.addMembers({ conversationId: id, userIds: ["x1", "x2"] });
    const open = await group([], { joinPolicy: JoinPolicy.OPEN });
    await alice.addMembers({ conversationId: open, userIds: ["bob"] });
    await bob.addMembers({ conversationId: open, userIds: ["carol"] });
    const direct = (await alice.createConversation({ type: DIRECT, memberIds: ["bob"] })).conversation!.id;
    await expectCode(alice.addMembers({ conversationId: direct, userIds: ["carol"] }), Code.FailedPrecondition);
  });

  it("removes members by rank; a removed member loses access at once but syncs up to the removal", async () => {
    const id = await group(["bob", "carol", "dave"]);
    await alice.updateMemberRole({ conversationId: id, userId: "bob", role: MemberRole.ADMIN });
    await alice.updateMemberRole({ conversationId: id, userId: "carol", role: MemberRole.ADMIN });
    await expectCode(dave.removeMember({ conversationId: id, userId: "bob" }), Code.PermissionDenied);
    await expectCode(bob.removeMember({ conversationId: id, userId: "carol" }), Code.PermissionDenied);
    await expectCode(bob.removeMember({ conversationId: id, userId: "alice" }), Code.PermissionDenied);
    await expectCode(bob.removeMember({ conversationId: id, userId: "nobody" }), Code.NotFound);
    await expectCode(bob.removeMember({ conversationId: id, userId: "bob" }), Code.InvalidArgument);
    await dave.sendMessage({ conversationId: id, clientMessageId: "d1", text: "before" });
    await bob.removeMember({ conversationId: id, userId: "dave" });
    await alice.sendMessage({ conversationId: id, clientMessageId: "a1", text: "after" });
    await expectCode(dave.getConversation({ conversationId: id }), Code.NotFound);
    await expectCode(dave.sendMessage({ conversationId: id, clientMessageId: "d2", text: "again" }), Code.NotFound);
    await expectCode(dave.listMessages({ conversationId: id }), Code.NotFound);
    await expectCode(dave.listMembers({ conversationId: id }), Code.NotFound);
    const sync = await dave.sync({ conversationId: id });
    expect(sync.headSeq).toBe(5n);
    expect(sync.events.map((e) => e.payload.case)).toEqual(["conversationCreated", "memberRoleChanged", "memberRoleChanged", "messageCreated", "memberRemoved"]);
    expect(sync.hasMore).toBe(false);
    expect((await dave.listConversations({})).conversations).toEqual([]);
    await expectCode(bob.removeMember({ conversationId: id, userId: "dave" }), Code.NotFound);
    // Owners remove admins.
    await alice.removeMember({ conversationId: id, userId: "carol" });
    expect((await alice.listMembers({ conversationId: id })).members.map((m) => m.userId)).toEqual(["alice", "bob"]);
  });

  it("lets members leave, but not the last owner while others remain, and never from DIRECT", async () => {
    const id = await group(["bob"]);
    await expectCode(alice.leaveConversation({ conversationId: id }), Code.FailedPrecondition);
    await bob.leaveConversation({ conversationId: id });
    await expectCode(bob.leaveConversation({ conversationId: id }), Code.NotFound);
    expect((await payloads(alice, id)).at(-1)).toEqual([2, "memberLeft", "bob"]);
    await alice.leaveConversation({ conversationId: id });
    await expectCode(alice.getConversation({ conversationId: id }), Code.NotFound);
    const direct = (await alice.createConversation({ type: DIRECT, memberIds: ["bob"] })).conversation!.id;
    await expectCode(bob.leaveConversation({ conversationId: direct }), Code.FailedPrecondition);
    // Someone who left and is added again gets a new membership period.
    const again = await group(["bob"]);
    await bob.leaveConversation({ conversationId: again });
    const res = await alice.addMembers({ conversationId: again, userIds: ["bob"] });
    expect(res.members[0]).toMatchObject({ userId: "bob", joinedSeq: 3n });
    expect((await bob.getConversation({ conversationId: again })).membership?.joinedSeq).toBe(3n);
  });

  it("changes roles by the rules and never leaves a conversation without an owner", async () => {
    const id = await group(["bob", "carol"]);
    await expectCode(bob.updateMemberRole({ conversationId: id, userId: "carol", role: MemberRole.ADMIN }), Code.PermissionDenied);
    const promoted = await alice.updateMemberRole({ conversationId: id, userId: "bob", role: MemberRole.ADMIN });
    expect(promoted.member).toMatchObject({ userId: "bob", role: MemberRole.ADMIN });
    await bob.updateMemberRole({ conversationId: id, userId: "carol", role: MemberRole.ADMIN });
    await expectCode(bob.updateMemberRole({ conversationId: id, userId: "carol", role: MemberRole.MEMBER }), Code.PermissionDenied);
    await expectCode(bob.updateMemberRole({ conversationId: id, userId: "alice", role: MemberRole.MEMBER }), Code.PermissionDenied);
    await expectCode(alice.updateMemberRole({ conversationId: id, userId: "alice", role: MemberRole.ADMIN }), Code.FailedPrecondition);
    await expectCode(alice.updateMemberRole({ conversationId: id, userId: "zed", role: MemberRole.ADMIN }), Code.NotFound);
    await alice.updateMemberRole({ conversationId: id, userId: "carol", role: MemberRole.OWNER });
    await alice.updateMemberRole({ conversationId: id, userId: "alice", role: MemberRole.MEMBER });
    const head = (await carol.sync({ conversationId: id })).headSeq;
    // Setting the current role appends nothing.
    await carol.updateMemberRole({ conversationId: id, userId: "bob", role: MemberRole.ADMIN });
    expect((await carol.sync({ conversationId: id })).headSeq).toBe(head);
    const roles = (await carol.listMembers({ conversationId: id })).members.map((m) => [m.userId, m.role]);
    expect(roles).toEqual([
      ["alice", MemberRole.MEMBER],
      ["bob", MemberRole.ADMIN],
      ["carol", MemberRole.OWNER],
    ]);
    const events = await carol.sync({ conversationId: id });
    const changed = events.events
      .filter((e) => e.payload.case === "memberRoleChanged")
      .map((e) => (e.payload.case === "memberRoleChanged" ? [e.actorId, e.payload.value.userId, e.payload.value.role] : []));
    expect(changed).toEqual([
      ["alice", "bob", MemberRole.ADMIN],
      ["bob", "carol", MemberRole.ADMIN],
      ["alice", "carol", MemberRole.OWNER],
      ["alice", "alice", MemberRole.MEMBER],
    ]);
  });

  it("lists members by joined seq with page tokens; bans only for moderators", async () => {
    const id = await group(["bob", "carol"]);
    await alice.addMembers({ conversationId: id, userIds: ["dave"] });
    const p1 = await bob.listMembers({ conversationId: id, pageSize: 2 });
    expect(p1.members.map((m) => m.userId)).toEqual(["alice", "bob"]);
    const p2 = await bob.listMembers({ conversationId: id, pageSize: 2, pageToken: p1.nextPageToken });
    expect(p2.members.map((m) => [m.userId, m.joinedSeq])).toEqual([
      ["carol", 1n],
      ["dave", 2n],
    ]);
    expect(p2.nextPageToken).toBe("");
    const other = await group(["bob"]);
    await expectCode(bob.listMembers({ conversationId: other, pageSize: 2, pageToken: p1.nextPageToken }), Code.InvalidArgument);
    await expectCode(bob.listMembers({ conversationId: id, state: MemberState.BANNED }), Code.PermissionDenied);
    expect((await alice.listMembers({ conversationId: id, state: MemberState.BANNED })).members).toEqual([]);
    await expectCode(w.as("eve").listMembers({ conversationId: id }), Code.NotFound);
  });
});
