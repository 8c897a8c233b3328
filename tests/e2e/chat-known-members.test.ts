import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { bearer, tenantWithUsers } from "../support/tenants.js";

const platform = inject("embedded");

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) expect.fail("the call succeeded but should have failed");
  return err;
}

/*
 * Only users of the tenant become members: CreateConversation and AddMembers refuse ids no user
 * of the tenant has, deactivated users and users of another tenant, with NOT_FOUND naming them.
 */
describe("conversation members are users of the tenant", () => {
  let chat: (user: string) => ReturnType<typeof createClient<typeof ChatService>>;
  let t: Awaited<ReturnType<typeof tenantWithUsers>>;
  let other: Awaited<ReturnType<typeof tenantWithUsers>>;

  beforeAll(async () => {
    const admin = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
    t = await tenantWithUsers(platform.endpoints.auth!, admin, ["ann", "bob", "cid"], "members");
    other = await tenantWithUsers(platform.endpoints.auth!, admin, ["zed"], "members-other");
    await t.backend.deactivateUser({ userId: "cid" });
    chat = (user) => createClient(ChatService, createGrpcTransport({ baseUrl: platform.endpoints.gateway!, interceptors: [bearer(t.token(user))] }));
  });

  it("refuses a group with an unknown member, naming it", async () => {
    const err = await failure(chat("ann").createConversation({ type: ConversationType.GROUP, title: "g", memberIds: ["bob", "nobody-here"] }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toContain("nobody-here");
    expect(err.rawMessage).not.toContain("bob");
  });

  it("refuses a direct conversation with a deactivated user and with a user of another tenant", async () => {
    const deactivated = await failure(chat("ann").createConversation({ type: ConversationType.DIRECT, memberIds: ["cid"] }));
    expect(deactivated.code).toBe(Code.NotFound);
    expect(deactivated.rawMessage).toContain("cid");
    const foreign = await failure(chat("ann").createConversation({ type: ConversationType.DIRECT, memberIds: ["zed"] }));
    expect(foreign.code).toBe(Code.NotFound);
    expect(other.tenantId).not.toBe(t.tenantId);
  });

  it("refuses AddMembers with unknown users and adds known ones", async () => {
    const { conversation } = await chat("ann").createConversation({ type: ConversationType.GROUP, title: "g2", memberIds: [] });
    const err = await failure(chat("ann").addMembers({ conversationId: conversation!.id, userIds: ["bob", "ghost-1", "cid"] }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toContain("ghost-1");
    expect(err.rawMessage).toContain("cid");
    const res = await chat("ann").addMembers({ conversationId: conversation!.id, userIds: ["bob"] });
    expect(res.members.map((m) => m.userId)).toEqual(["bob"]);
  });
});

/*
 * The tenant setting create_users_on_first_use: unknown member ids become users (empty profile,
 * active) instead of NOT_FOUND; deactivated users are still refused; other tenants are untouched.
 */
describe("users created on first use", () => {
  let t: Awaited<ReturnType<typeof tenantWithUsers>>;
  let chat: ReturnType<typeof createClient<typeof ChatService>>;

  beforeAll(async () => {
    const admin = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
    t = await tenantWithUsers(platform.endpoints.auth!, admin, ["ann", "cid"], "first-use");
    await t.backend.deactivateUser({ userId: "cid" });
    chat = createClient(ChatService, createGrpcTransport({ baseUrl: platform.endpoints.gateway!, interceptors: [bearer(t.token("ann"))] }));
  });

  it("is off by default: an unknown member is refused and no user is created", async () => {
    expect((await failure(chat.createConversation({ type: ConversationType.GROUP, title: "off", memberIds: ["new-off"] }))).code).toBe(Code.NotFound);
    expect((await failure(t.backend.getUser({ userId: "new-off" }))).code).toBe(Code.NotFound);
  });

  it("when on, creates unknown members on CreateConversation and AddMembers, still refusing deactivated users", async () => {
    await t.admin.updateTenant({ tenant: { id: t.tenantId, settings: { createUsersOnFirstUse: true } }, updateMask: { paths: ["settings.create_users_on_first_use"] } });
    const { conversation } = await chat.createConversation({ type: ConversationType.GROUP, title: "on", memberIds: ["new-1", "new-2"] });
    expect(conversation!.memberCount).toBe(3);
    const created = await t.backend.getUser({ userId: "new-1" });
    expect(created.user).toMatchObject({ id: "new-1", displayName: "new-1", roles: [] });
    const added = await chat.addMembers({ conversationId: conversation!.id, userIds: ["new-3"] });
    expect(added.members.map((m) => m.userId)).toEqual(["new-3"]);
    const refused = await failure(chat.addMembers({ conversationId: conversation!.id, userIds: ["new-4", "cid"] }));
    expect(refused.code).toBe(Code.NotFound);
    expect(refused.rawMessage).toContain("cid");
    expect(refused.rawMessage).not.toContain("new-4");
    // The tenant's backend can still give a created user a profile; it is the same user.
    await t.backend.upsertUser({ userId: "new-1", displayName: "New One" });
    expect((await t.backend.getUser({ userId: "new-1" })).user?.displayName).toBe("New One");
  });

  it("creates users only in the caller's tenant", async () => {
    const admin = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
    const other = await tenantWithUsers(platform.endpoints.auth!, admin, ["zed"], "first-use-other");
    await chat.createConversation({ type: ConversationType.DIRECT, memberIds: ["only-in-first"] });
    expect((await failure(other.backend.getUser({ userId: "only-in-first" }))).code).toBe(Code.NotFound);
    expect((await t.backend.getUser({ userId: "only-in-first" })).user?.id).toBe("only-in-first");
  });
});
