import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, type Client } from "@connectrpc/connect";
import { toBinary } from "@bufbuild/protobuf";
import { ChatInternalService, type EraseUserDataResponse } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { EventSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { registerChatRoutes } from "../src/routes.js";
import { failure } from "./support/expect.js";
import { sqliteWorld, type Tier1Client, type World } from "./support/harness.js";
import { internalClientAs } from "./support/router.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-user-data-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MARKER = "zanzibar-quokka";

/** Whether `text` occurs anywhere in the encoded events. */
function bytesContain(events: Event[], text: string): boolean {
  return events.some((e) => Buffer.from(toBinary(EventSchema, e)).includes(Buffer.from(text)));
}

describe("ChatInternalService user data: ExportUserData and EraseUserData (tier 2: routes with a service principal)", () => {
  let w: World;
  let alice: Tier1Client;
  let bob: Tier1Client;
  let svc: Client<typeof ChatInternalService>;
  let group: string;
  let pair: string;
  const internalAs = (who?: string) => internalClientAs((router) => registerChatRoutes(router, w.instance.impl, w.instance.internal), who);
  let sent = 0;
  const send = (client: Tier1Client, conversationId: string, text: string) => client.sendMessage({ conversationId, clientMessageId: `c${++sent}`, text });

  /** Every page of an erasure, summed, with the number of calls it took. */
  async function eraseAll(userId: string, heldConversationIds: string[] = [], tenantId = w.tenantId): Promise<{ sum: EraseUserDataResponse; calls: number }> {
    let pageToken = "";
    let calls = 0;
    let sum: EraseUserDataResponse | undefined;
    do {
      const page = await svc.eraseUserData({ tenantId, userId, pageSize: 2, pageToken, heldConversationIds });
      calls++;
      if (!sum) sum = page;
      else {
        sum.messagesErased += page.messagesErased;
        sum.reactionsRemoved += page.reactionsRemoved;
        sum.readStatesDropped += page.readStatesDropped;
        sum.skippedConversationIds.push(...page.skippedConversationIds);
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return { sum: sum, calls };
  }

  beforeEach(async () => {
    w = await sqliteWorld(dir, undefined, randomUUID());
    alice = w.as("alice");
    bob = w.as("bob");
    svc = internalAs("svc:compliance");
    group = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob", "carol"] })).conversation!.id;
    pair = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    const a1 = await send(alice, group, `first ${MARKER}`);
    await alice.editMessage({ conversationId: group, messageId: a1.messageId, text: `edited ${MARKER}` });
    await send(alice, group, `second ${MARKER}`);
    const b1 = await send(bob, group, "bob keeps this");
    await alice.addReaction({ conversationId: group, messageId: b1.messageId, reaction: "👍" });
    await bob.addReaction({ conversationId: group, messageId: b1.messageId, reaction: "🎉" });
    await send(alice, pair, `third ${MARKER}`);
    await alice.markRead({ conversationId: group, seq: b1.seq });
  });
  afterEach(() => w.close());

  it("exports the user's memberships, read positions, messages, edits and reactions as JSON lines, page by page", async () => {
    const lines: { kind: string; conversationId?: string; event?: { messageCreated?: { message?: { text?: string } } } }[] = [];
    let pageToken = "";
    let calls = 0;
    do {
      const page = await svc.exportUserData({ tenantId: w.tenantId, userId: "alice", pageSize: 2, pageToken });
      lines.push(...page.jsonLines.map((l) => JSON.parse(l) as (typeof lines)[number]));
      pageToken = page.nextPageToken;
      calls++;
    } while (pageToken !== "");
    expect(calls).toBeGreaterThan(3);
    const count = (kind: string) => lines.filter((l) => l.kind === kind).length;
    expect([count("membership"), count("read_state"), count("message"), count("edit"), count("reaction")]).toEqual([2, 2, 3, 1, 1]);
    expect(
      lines
        .filter((l) => l.kind === "message")
        .map((l) => l.event?.messageCreated?.message?.text)
        .sort(),
    ).toEqual([`first ${MARKER}`, `second ${MARKER}`, `third ${MARKER}`]);
    expect(JSON.stringify(lines)).not.toContain("bob keeps this");
  });

  it("erases the user's messages through the log (dense seqs), their reactions and read positions, and leaves others' content", async () => {
    const headBefore = (await bob.sync({ conversationId: group })).events.length;
    const { sum } = await eraseAll("alice");
    expect(sum).toMatchObject({ messagesErased: 3n, reactionsRemoved: 1n, readStatesDropped: 2n, skippedConversationIds: [] });

    const { events } = await bob.sync({ conversationId: group });
    expect(events.map((e) => Number(e.seq))).toEqual(events.map((_, i) => i + 1));
    // Two MessageDeleted and one ReactionRemoved appended.
    expect(events.length).toBe(headBefore + 3);
    expect(bytesContain(events, MARKER)).toBe(false);
    expect(bytesContain((await bob.sync({ conversationId: pair })).events, MARKER)).toBe(false);
    const listed = (await bob.listMessages({ conversationId: group })).messages;
    expect(listed.map((m) => [m.senderId, m.text, m.deleted])).toEqual(
      expect.arrayContaining([
        ["alice", "", true],
        ["bob", "bob keeps this", false],
      ]),
    );
    const bobs = listed.find((m) => m.senderId === "bob")!;
    expect(bobs.reactions.map((r) => [r.reaction, r.count])).toEqual([["🎉", 1]]);
    expect(await w.instance.stores.readStates.get(scopeForAdmin(w.tenantId), group, "alice")).toBeUndefined();
  });

  it("is idempotent: a second erasure finds nothing left and appends nothing", async () => {
    await eraseAll("alice");
    const head = (await bob.sync({ conversationId: group })).events.length;
    const { sum } = await eraseAll("alice");
    expect(sum).toMatchObject({ messagesErased: 0n, reactionsRemoved: 0n, readStatesDropped: 0n });
    expect((await bob.sync({ conversationId: group })).events.length).toBe(head);
  });

  it("skips held conversations and names them", async () => {
    const { sum } = await eraseAll("alice", [pair]);
    expect(sum).toMatchObject({ messagesErased: 2n, readStatesDropped: 1n, skippedConversationIds: [pair] });
    expect(bytesContain((await bob.sync({ conversationId: pair })).events, MARKER)).toBe(true);
    expect(bytesContain((await bob.sync({ conversationId: group })).events, MARKER)).toBe(false);
  });

  it("finds nothing for the same user id in another tenant, and nothing for an unknown user", async () => {
    expect((await eraseAll("alice", [], randomUUID())).sum).toMatchObject({ messagesErased: 0n, reactionsRemoved: 0n });
    expect((await svc.exportUserData({ tenantId: randomUUID(), userId: "alice" })).jsonLines).toEqual([]);
    expect((await eraseAll("nobody")).sum.messagesErased).toBe(0n);
    expect(bytesContain((await bob.sync({ conversationId: group })).events, MARKER)).toBe(true);
  });

  it("takes the largest page size the proto allows (2000; at most 1000 events are read per call)", async () => {
    const page = await svc.exportUserData({ tenantId: w.tenantId, userId: "alice", pageSize: 2000 });
    expect(page.jsonLines.length).toBeGreaterThan(0);
    expect((await svc.eraseUserData({ tenantId: w.tenantId, userId: "nobody", pageSize: 2000 })).messagesErased).toBe(0n);
  });

  it("refuses users and anonymous callers, bad ids and page tokens of another user", async () => {
    expect((await failure(internalAs(`${w.tenantId}/alice`).eraseUserData({ tenantId: w.tenantId, userId: "alice" }))).code).toBe(Code.PermissionDenied);
    expect((await failure(internalAs(undefined).exportUserData({ tenantId: w.tenantId, userId: "alice" }))).code).toBe(Code.Unauthenticated);
    expect((await failure(svc.eraseUserData({ tenantId: "not-a-uuid", userId: "alice" }))).code).toBe(Code.InvalidArgument);
    expect((await failure(svc.eraseUserData({ tenantId: w.tenantId, userId: "bad id!" }))).code).toBe(Code.InvalidArgument);
    expect((await failure(svc.eraseUserData({ tenantId: w.tenantId, userId: "alice", heldConversationIds: ["x"] }))).code).toBe(Code.InvalidArgument);
    const page = await svc.exportUserData({ tenantId: w.tenantId, userId: "alice", pageSize: 1 });
    expect((await failure(svc.exportUserData({ tenantId: w.tenantId, userId: "bob", pageToken: page.nextPageToken }))).code).toBe(Code.InvalidArgument);
  });
});

describe("EraseUserData on SQLite: the erased text leaves chat's files", () => {
  it("leaves no byte of the marker in the database file or its WAL after the last page", async () => {
    const own = mkdtempSync(join(tmpdir(), "caas-chat-erase-disk-"));
    const w = await sqliteWorld(own, undefined, randomUUID());
    try {
      const svc = internalClientAs((router) => registerChatRoutes(router, w.instance.impl, w.instance.internal), "svc:compliance");
      const alice = w.as("alice");
      const conv = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
      for (let i = 0; i < 15; i++) await alice.sendMessage({ conversationId: conv, clientMessageId: `d${i}`, text: `${MARKER} ${i} ${"x".repeat(i * 20)}` });
      await w.as("bob").sendMessage({ conversationId: conv, clientMessageId: "b", text: "bob's words stay" });
      const onDisk = () => Buffer.concat(readdirSync(own).map((f) => readFileSync(join(own, f))));
      expect(onDisk().includes(Buffer.from(MARKER))).toBe(true);
      let pageToken = "";
      do pageToken = (await svc.eraseUserData({ tenantId: w.tenantId, userId: "alice", pageSize: 7, pageToken })).nextPageToken;
      while (pageToken !== "");
      expect(onDisk().includes(Buffer.from(MARKER))).toBe(false);
      expect(onDisk().includes(Buffer.from("bob's words stay"))).toBe(true);
    } finally {
      await w.close();
      rmSync(own, { recursive: true, force: true });
    }
  });
});
