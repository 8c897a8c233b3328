import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { beforeEach, describe, expect, inject, it, vi } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MessageOrder, SearchService } from "@caas/gen/caas/search/v1/search_service_pb.js";
import { MediaService } from "@caas/gen/caas/media/v1/media_service_pb.js";
import { ViolationsSchema } from "@caas/gen/buf/validate/validate_pb.js";
import { BadRequestSchema, RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { SearchInternalService } from "@caas/gen/caas/search/v1/search_internal_service_pb.js";
import { createPeerServiceTokenSource, SERVICE_SECRET_FILE } from "@caas/shared/identity/service-tokens";
import { newId } from "@caas/shared/ids";
import { PeerDirectory } from "@caas/shared/clients";
import { systemClock } from "@caas/shared/clock";
import { bearer, tenantWithUsers } from "../support/tenants.js";
import { wsConnection, type RealtimeConnection } from "./realtime-clients.js";

const embedded = inject("embedded");
const cluster = inject("cluster");

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) expect.fail("the call succeeded but should have failed");
  return err;
}

/**
 * Polls until `check` passes: indexing follows the event log, so a write is found shortly after.
 * Every poll is a search against the 30-a-minute limit, so polls are spaced and tests spread them
 * over several users.
 */
const eventually = (check: () => Promise<void>) => vi.waitFor(check, { timeout: 10_000, interval: 300 });

/** The fields named by an INVALID_ARGUMENT's details (the service's BadRequest or the schema's Violations). */
function violatedFields(err: ConnectError): string[] {
  return [
    ...err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field)),
    ...err.findDetails(ViolationsSchema).flatMap((d) => d.violations.map((v) => v.field?.elements.map((e) => e.fieldName).join(".") ?? "")),
  ];
}

/** The search scenarios, run against one platform through its gateway. */
function searchScenarios(target: () => { gateway: string; auth: string; socket: string; admin: string }) {
  let frameId = 0n;
  /** An authenticated WebSocket realtime connection of `token`. */
  const realtime = async (token: string): Promise<RealtimeConnection> => {
    const c = await wsConnection(target().socket, "search-ws");
    const ok = await c.call({ id: ++frameId, frame: { case: "auth", value: { accessToken: token } } });
    expect(ok.frame.case).toBe("authOk");
    return c;
  };
  let t: Awaited<ReturnType<typeof tenantWithUsers>>;
  let other: Awaited<ReturnType<typeof tenantWithUsers>>;
  const USERS = ["alice", "bob", "carol", "dave", "erin", "frank"];
  const transport = (token: string) => createGrpcTransport({ baseUrl: target().gateway, interceptors: [bearer(token)] });
  const chat = (token: string) => createClient(ChatService, transport(token));
  const search = (token: string): Client<typeof SearchService> => createClient(SearchService, transport(token));
  const found = async (token: string, query: string, extra: { conversationIds?: string[] } = {}) => (await search(token).searchMessages({ query, ...extra })).hits.map((h) => h.messageId);

  // A fresh tenant per test: each test's searches count against its own users' buckets.
  beforeEach(async () => {
    const { auth, admin } = target();
    [t, other] = await Promise.all([tenantWithUsers(auth, admin, USERS, "search"), tenantWithUsers(auth, admin, ["alice"], "search-other")]);
  });

  it("finds a sent word shortly after, with its snippet; not for a non-member or another tenant", async () => {
    const alice = chat(t.token("alice"));
    const { conversation } = await alice.createConversation({ type: ConversationType.GROUP, title: "Launch Plans", memberIds: ["bob"] });
    const id = conversation!.id;
    const sent = await alice.sendMessage({ conversationId: id, clientMessageId: "m1", text: "The zeppelin leaves at noon" });
    // The same word in another tenant's conversation with the same user id.
    const o = chat(other.token("alice"));
    const theirs = (await o.createConversation({ type: ConversationType.GROUP })).conversation!.id;
    const foreign = await o.sendMessage({ conversationId: theirs, clientMessageId: "m1", text: "zeppelin elsewhere" });
    await eventually(async () => expect(await found(t.token("bob"), "ZEPPELIN")).toEqual([sent.messageId]));
    const hit = (await search(t.token("alice")).searchMessages({ query: "zeppelin", conversationIds: [id] })).hits[0]!;
    expect(hit).toMatchObject({ conversationId: id, seq: sent.seq, senderId: "alice" });
    expect(hit.snippet!.highlights.map((r) => hit.snippet!.text.slice(r.start, r.end))).toEqual(["zeppelin"]);
    await eventually(async () => expect(await found(other.token("alice"), "zeppelin")).toEqual([foreign.messageId]));
    expect(await found(t.token("carol"), "zeppelin")).toEqual([]);
    // Naming the conversation: NOT_FOUND for a non-member, for an unknown id and for another tenant's id alike.
    for (const [token, conversationId] of [
      [t.token("carol"), id],
      [t.token("alice"), newId()],
      [other.token("alice"), id],
    ] as const) {
      const err = await failure(search(token).searchMessages({ query: "zeppelin", conversationIds: [conversationId] }));
      expect(err.code).toBe(Code.NotFound);
      expect(err.findDetails(BadRequestSchema)[0]!.fieldViolations.map((v) => v.field)).toEqual(["conversation_ids[0]"]);
    }
    // Conversations by title prefix.
    const convs = await search(t.token("bob")).searchConversations({ query: "laun pl" });
    expect(convs.conversations.map((c) => [c.conversationId, c.title])).toEqual([[id, "Launch Plans"]]);

    // The realtime search frames answer the same as the RPCs, on the same connection.
    const ws = await realtime(t.token("bob"));
    try {
      const rpc = await search(t.token("bob")).searchMessages({ query: "zeppelin" });
      const framed = await ws.call({ id: ++frameId, frame: { case: "searchMessages", value: { query: "zeppelin" } } });
      expect(framed.frame.case).toBe("searchMessages");
      expect(framed.frame.value).toEqual(rpc);
      const framedConvs = await ws.call({ id: ++frameId, frame: { case: "searchConversations", value: { query: "laun pl" } } });
      expect(framedConvs.frame.value).toEqual(convs);
      const framedUsers = await ws.call({ id: ++frameId, frame: { case: "searchUsers", value: { query: "alice" } } });
      expect(framedUsers.frame.case).toBe("searchUsers");
      const bad = await ws.call({ id: ++frameId, frame: { case: "searchMessages", value: { query: "zeppelin", conversationIds: [newId()] } } });
      expect(bad.frame.case === "error" && bad.frame.value.code).toBe(Code.NotFound);
    } finally {
      ws.close();
    }
    expect((await search(t.token("carol")).searchConversations({ query: "launch" })).conversations).toEqual([]);
  });

  it("finds an edit by its new text and not its old; never finds a deleted message", async () => {
    const alice = chat(t.token("alice"));
    const id = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    const m = await alice.sendMessage({ conversationId: id, clientMessageId: "e1", text: "quokka sighting" });
    const gone = await alice.sendMessage({ conversationId: id, clientMessageId: "e2", text: "wombat secret" });
    await eventually(async () => expect(await found(t.token("bob"), "quokka")).toEqual([m.messageId]));
    expect(await found(t.token("carol"), "wombat", { conversationIds: [id] }).catch((e: unknown) => ConnectError.from(e).code)).toBe(Code.NotFound);
    await eventually(async () => expect(await found(t.token("alice"), "wombat")).toEqual([gone.messageId]));
    await alice.editMessage({ conversationId: id, messageId: m.messageId, text: "platypus sighting" });
    await alice.deleteMessage({ conversationId: id, messageId: gone.messageId });
    await eventually(async () => expect(await found(t.token("alice"), "platypus")).toEqual([m.messageId]));
    await eventually(async () => expect(await found(t.token("bob"), "wombat")).toEqual([]));
    expect(await found(t.token("bob"), "quokka")).toEqual([]);
    expect(await found(t.token("bob"), "sighting")).toEqual([m.messageId]);
    expect(await found(t.token("alice"), "secret")).toEqual([]);
  });

  it("filters by attachments and orders newest first or by relevance", async () => {
    const alice = chat(t.token("alice"));
    const id = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    const media = createClient(MediaService, transport(t.token("alice")));
    const bytes = Buffer.from("a narwhal picture");
    const { media: reserved, upload } = await media.createUpload({ name: "n.txt", mimeType: "text/plain", sizeBytes: BigInt(bytes.length) });
    const form = new FormData();
    for (const f of upload!.fields) form.append(f.name, f.value);
    form.append(upload!.fileField, new Blob([bytes], { type: upload!.contentType }), "n.txt");
    expect((await fetch(upload!.url, { method: upload!.method, body: form })).status).toBeLessThan(300);
    await media.completeUpload({ mediaId: reserved!.id });
    const withFile = await alice.sendMessage({ conversationId: id, clientMessageId: "a1", text: "narwhal photo", attachments: [{ mediaId: reserved!.id }] });
    const repeated = await alice.sendMessage({ conversationId: id, clientMessageId: "a2", text: "narwhal narwhal narwhal" });
    const latest = await alice.sendMessage({ conversationId: id, clientMessageId: "a3", text: "a narwhal with many other words around it in this message" });
    const bob = search(t.token("bob"));
    await eventually(async () =>
      expect((await bob.searchMessages({ query: "narwhal", order: MessageOrder.NEWEST })).hits.map((h) => h.messageId)).toEqual([latest.messageId, repeated.messageId, withFile.messageId]),
    );
    expect((await bob.searchMessages({ query: "narwhal", hasAttachments: true })).hits.map((h) => h.messageId)).toEqual([withFile.messageId]);
    expect((await bob.searchMessages({ query: "narwhal", hasAttachments: false })).hits.map((h) => h.messageId).sort()).toEqual([repeated.messageId, latest.messageId].sort());
    // Relevance: the message that repeats the word comes first.
    expect((await bob.searchMessages({ query: "narwhal", order: MessageOrder.RELEVANCE })).hits[0]!.messageId).toBe(repeated.messageId);
    // An edit keeps the attachment flag; another tenant sees none of it.
    await alice.editMessage({ conversationId: id, messageId: withFile.messageId, text: "narwhal picture" });
    await eventually(async () => expect((await bob.searchMessages({ query: "picture", hasAttachments: true })).hits.map((h) => h.messageId)).toEqual([withFile.messageId]));
    expect((await search(other.token("alice")).searchMessages({ query: "narwhal", hasAttachments: true })).hits).toEqual([]);
    // A page token is bound to the order.
    const first = await bob.searchMessages({ query: "narwhal", pageSize: 1 });
    const err = await failure(bob.searchMessages({ query: "narwhal", pageSize: 1, pageToken: first.nextPageToken, order: MessageOrder.NEWEST }));
    expect(err.code).toBe(Code.InvalidArgument);
  });

  it("a member who left finds what was sent before leaving, nothing after", async () => {
    const alice = chat(t.token("alice"));
    const id = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["dave"] })).conversation!.id;
    const before = await alice.sendMessage({ conversationId: id, clientMessageId: "l1", text: "narwhal before" });
    await eventually(async () => expect(await found(t.token("dave"), "narwhal")).toEqual([before.messageId]));
    await chat(t.token("dave")).leaveConversation({ conversationId: id });
    const after = await alice.sendMessage({ conversationId: id, clientMessageId: "l2", text: "narwhal after" });
    await eventually(async () => expect((await found(t.token("alice"), "narwhal")).sort()).toEqual([before.messageId, after.messageId].sort()));
    expect(await found(t.token("dave"), "narwhal")).toEqual([before.messageId]);
  });

  it("refuses bad input before searching: empty, operators only, too long, too many words, a page token of another query", async () => {
    const s = search(t.token("erin"));
    const fieldOf = async (p: Promise<unknown>) => {
      const err = await failure(p);
      expect(err.code).toBe(Code.InvalidArgument);
      return violatedFields(err);
    };
    expect(await fieldOf(s.searchMessages({ query: "" }))).toEqual(["query"]);
    expect(await fieldOf(s.searchMessages({ query: "   " }))).toEqual(["query"]);
    expect(await fieldOf(s.searchMessages({ query: '"" * - ()' }))).toEqual(["query"]);
    expect(await fieldOf(s.searchMessages({ query: "x".repeat(257) }))).toEqual(["query"]);
    expect(await fieldOf(s.searchMessages({ query: Array.from({ length: 33 }, (_, i) => `w${i}`).join(" ") }))).toEqual(["query"]);
    expect(await fieldOf(s.searchMessages({ query: "ok", pageToken: "forged" }))).toEqual(["page_token"]);
    // A real token of another query (erin needs a conversation with two hits to get one).
    const e = chat(t.token("erin"));
    const id = (await e.createConversation({ type: ConversationType.GROUP })).conversation!.id;
    for (const n of [1, 2]) await e.sendMessage({ conversationId: id, clientMessageId: `p${n}`, text: `pelican ${n}` });
    let token = "";
    await eventually(async () => {
      token = (await s.searchMessages({ query: "pelican", pageSize: 1 })).nextPageToken;
      expect(token).not.toBe("");
    });
    expect(await fieldOf(s.searchMessages({ query: "pelican 2", pageSize: 1, pageToken: token }))).toEqual(["page_token"]);
  });

  it("finds users by display-name prefix or id prefix; not deactivated ones", async () => {
    await t.backend.upsertUser({ userId: "zed-1", displayName: "Zoë Quill" });
    await t.backend.upsertUser({ userId: "zed-2", displayName: "Zack Quill" });
    const s = search(t.token("alice"));
    await eventually(async () => expect((await s.searchUsers({ query: "quill" })).users.map((u) => u.userId)).toEqual(["zed-2", "zed-1"]));
    // Pages of one, bound to the query.
    const first = await s.searchUsers({ query: "quill", pageSize: 1 });
    expect(first.users.map((u) => u.userId)).toEqual(["zed-2"]);
    expect((await s.searchUsers({ query: "quill", pageSize: 1, pageToken: first.nextPageToken })).users.map((u) => u.userId)).toEqual(["zed-1"]);
    expect(violatedFields(await failure(s.searchUsers({ query: "zack", pageToken: first.nextPageToken })))).toEqual(["page_token"]);
    expect((await s.searchUsers({ query: "zoe" })).users.map((u) => [u.userId, u.displayName])).toEqual([["zed-1", "Zoë Quill"]]);
    expect((await s.searchUsers({ query: "zed-" })).users.map((u) => u.userId).sort()).toEqual(["zed-1", "zed-2"]);
    expect((await search(other.token("alice")).searchUsers({ query: "quill" })).users).toEqual([]);
    // A user who blocked the caller is not shown to them; others still see them.
    await chat(t.token("dave")).blockUser({ userId: "carol" });
    await eventually(async () => expect((await search(t.token("carol")).searchUsers({ query: "dave" })).users).toEqual([]));
    expect((await search(t.token("erin")).searchUsers({ query: "dave" })).users.map((u) => u.userId)).toEqual(["dave"]);
    await t.backend.deactivateUser({ userId: "zed-2" });
    await eventually(async () => expect((await search(t.token("bob")).searchUsers({ query: "quill" })).users.map((u) => u.userId)).toEqual(["zed-1"]));
  });

  it("the 31st search of a user in a minute is RESOURCE_EXHAUSTED with RetryInfo, RPCs and realtime frames counted together", async () => {
    const s = search(t.token("frank"));
    const ws = await realtime(t.token("frank"));
    try {
      for (let i = 0; i < 15; i++) await s.searchConversations({ query: `q${i}` });
      for (let i = 0; i < 15; i++) {
        const reply = await ws.call({ id: ++frameId, frame: { case: "searchConversations", value: { query: `f${i}` } } });
        expect(reply.frame.case).toBe("searchConversations");
      }
      const refused = await ws.call({ id: ++frameId, frame: { case: "searchMessages", value: { query: "anything" } } });
      expect(refused.frame.case === "error" && refused.frame.value.code).toBe(Code.ResourceExhausted);
      expect(refused.frame.case === "error" && refused.frame.value.retryAfter).toBeTruthy();
    } finally {
      ws.close();
    }
    const err = await failure(s.searchMessages({ query: "anything" }));
    expect(err.code).toBe(Code.ResourceExhausted);
    const delay = err.findDetails(RetryInfoSchema)[0]!.retryDelay!;
    expect(Number(delay.seconds) * 1000 + delay.nanos / 1e6).toBeGreaterThan(0);
    // Another user of the tenant is not affected.
    expect((await search(t.token("erin")).searchConversations({ query: "x" })).conversations).toEqual([]);
  });
}

describe("search through the gateway (embedded platform: SQLite FTS5, memory caches)", () => {
  searchScenarios(() => ({
    gateway: embedded.endpoints.gateway!,
    auth: embedded.endpoints.auth!,
    socket: embedded.endpoints.socket!,
    admin: readFileSync(join(embedded.dataDir, "admin-credential"), "utf8").trim(),
  }));
});

describe("SearchInternalService (embedded platform, a service token)", () => {
  it("reindexes a tenant from chat's log and tells the indexer's position against the log head", async () => {
    const admin = readFileSync(join(embedded.dataDir, "admin-credential"), "utf8").trim();
    const t = await tenantWithUsers(embedded.endpoints.auth!, admin, ["alice"], "search-internal");
    const alice = createClient(ChatService, createGrpcTransport({ baseUrl: embedded.endpoints.gateway!, interceptors: [bearer(t.token("alice"))] }));
    const id = (await alice.createConversation({ type: ConversationType.GROUP })).conversation!.id;
    await alice.sendMessage({ conversationId: id, clientMessageId: "r1", text: "heron" });
    const peers = new PeerDirectory();
    peers.set("auth", [embedded.endpoints.auth!]);
    const root = readFileSync(join(embedded.dataDir, SERVICE_SECRET_FILE), "utf8").trim();
    const tokens = createPeerServiceTokenSource({ service: "compliance", root, peers, clock: systemClock });
    const internal = createClient(SearchInternalService, createGrpcTransport({ baseUrl: embedded.endpoints.search!, interceptors: [bearer(await tokens.token("search"))] }));
    await eventually(async () => {
      const [status] = (await internal.getIndexStatus({ tenantId: t.tenantId, conversationIds: [id] })).conversations;
      expect(status).toMatchObject({ conversationId: id, indexedSeq: 2n, headSeq: 2n, lagEvents: 0n });
    });
    // The consumer group's lag on the embedded log (one partition) and the index schema.
    await eventually(async () => {
      const status = await internal.getIndexStatus({ tenantId: t.tenantId });
      expect(status.conversations).toEqual([]);
      expect(status.partitions).toHaveLength(1);
      expect(status.partitions[0]).toMatchObject({ partition: 0, lagEvents: 0n, lagMs: 0n });
      expect(status.partitions[0]!.endOffset).toBe(status.partitions[0]!.committedOffset);
      expect(status.schema).toMatchObject({ codeVersion: 2, storedVersion: 2, rebuilding: false });
      expect(status.schema!.currentDocuments).toBe(status.schema!.documents);
    });
    const res = await internal.reindex({ tenantId: t.tenantId });
    expect(res).toMatchObject({ conversations: 1, events: 2n, indexed: 0n });
    expect((await internal.reindex({ tenantId: t.tenantId, conversationId: id })).conversations).toBe(1);
    // Users are refused.
    const asUser = createClient(SearchInternalService, createGrpcTransport({ baseUrl: embedded.endpoints.search!, interceptors: [bearer(t.token("alice"))] }));
    expect((await failure(asUser.reindex({ tenantId: t.tenantId }))).code).toBe(Code.PermissionDenied);
  });
});

describe.skipIf(!cluster)("search through the gateway (cluster: Elasticsearch, MongoDB directory, Redis caches, Kafka)", () => {
  searchScenarios(() => ({
    gateway: cluster!.endpoints.gateway!,
    auth: cluster!.instances.find((i) => i.service === "auth")!.url,
    socket: cluster!.instances.find((i) => i.service === "socket")!.url,
    admin: cluster!.adminToken,
  }));
});
