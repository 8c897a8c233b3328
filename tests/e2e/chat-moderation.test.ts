import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType, JoinPolicy } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MemberState } from "@caas/gen/caas/chat/v1/member_pb.js";

const platform = inject("embedded");

const headers =
  (h: Record<string, string>): Interceptor =>
  (next) =>
  (req) => {
    for (const [k, v] of Object.entries(h)) req.header.set(k, v);
    return next(req);
  };
const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) expect.fail("the call succeeded but should have failed");
  return err;
}

/** A fresh tenant whose users (with tenant roles) hold access tokens from the running auth service. */
async function tenantWithUsers(authUrl: string, adminCredential: string, users: Record<string, string[]>) {
  const admin = createClient(TenantAdminService, createGrpcTransport({ baseUrl: authUrl, interceptors: [headers(bearer(adminCredential))] }));
  const { tenant } = await admin.createTenant({ name: `moderation-e2e-${Date.now()}` });
  const { secret } = await admin.createApiKey({ tenantId: tenant!.id, name: "backend" });
  const backend = createClient(UserAdminService, createGrpcTransport({ baseUrl: authUrl, interceptors: [headers(bearer(secret))] }));
  const tokens: Record<string, string> = {};
  for (const [userId, roles] of Object.entries(users)) {
    await backend.upsertUser({ userId, displayName: userId, roles });
    tokens[userId] = (await backend.issueUserToken({ userId, deviceId: "d1" })).tokens!.accessToken;
  }
  const token = (user: string) => tokens[user]!;
  return Object.assign(token, { tenantId: tenant!.id, admin });
}

/**
 * Moderation over the network through the gateway (the public edge), with real access tokens:
 * the ABAC engine in chat decides with the tenant roles the tokens carry.
 */
describe("chat moderation end to end through the gateway (embedded platform)", () => {
  const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
  const gateway = platform.endpoints.gateway!;
  let as: (user: string) => Client<typeof ChatService>;
  let stranger: Client<typeof ChatService>;
  let tenant: Awaited<ReturnType<typeof tenantWithUsers>>;

  beforeAll(async () => {
    const token = (tenant = await tenantWithUsers(platform.endpoints.auth!, adminCredential, { alice: ["user"], bob: ["user"], carol: ["user"], mod: ["moderator"] }));
    const otherToken = await tenantWithUsers(platform.endpoints.auth!, adminCredential, { alice: ["moderator"] });
    const client = (t: string, http1: boolean) =>
      createClient(
        ChatService,
        http1 ? createConnectTransport({ baseUrl: gateway, httpVersion: "1.1", interceptors: [headers(bearer(t))] }) : createGrpcTransport({ baseUrl: gateway, interceptors: [headers(bearer(t))] }),
      );
    // Half the users speak gRPC over HTTP/2, half Connect over HTTP/1.1.
    as = (user) => client(token(user), user === "bob" || user === "mod");
    stranger = client(otherToken("alice"), false);
  });

  it("freezes a conversation: members get FAILED_PRECONDITION, the owner still sends, and both changes are in Sync", async () => {
    const [alice, bob] = [as("alice"), as("bob")];
    const id = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    expect((await failure(bob.freezeConversation({ conversationId: id }))).code).toBe(Code.PermissionDenied);
    expect((await failure(stranger.freezeConversation({ conversationId: id }))).code).toBe(Code.NotFound);
    expect((await alice.freezeConversation({ conversationId: id, reason: "heated" })).conversation?.frozen).toBe(true);
    const refused = await failure(bob.sendMessage({ conversationId: id, clientMessageId: "e2e-f1", text: "hello?" }));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.rawMessage).toMatch(/frozen/);
    await alice.sendMessage({ conversationId: id, clientMessageId: "e2e-f2", text: "calm down" });
    await alice.unfreezeConversation({ conversationId: id });
    await bob.sendMessage({ conversationId: id, clientMessageId: "e2e-f3", text: "sorry" });
    const { events } = await bob.sync({ conversationId: id });
    expect(events.map((e) => e.payload.case)).toEqual(["conversationCreated", "conversationFrozen", "messageCreated", "conversationUnfrozen", "messageCreated"]);
  });

  it("bans a member (by a tenant moderator who is not a member): removed, cannot rejoin until unbanned", async () => {
    const [alice, bob, mod] = [as("alice"), as("bob"), as("mod")];
    const id = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob", "carol"], joinPolicy: JoinPolicy.OPEN })).conversation!.id;
    expect((await failure(as("carol").banMember({ conversationId: id, userId: "bob" }))).code).toBe(Code.PermissionDenied);
    expect((await failure(stranger.banMember({ conversationId: id, userId: "bob" }))).code).toBe(Code.NotFound);
    const banned = await mod.banMember({ conversationId: id, userId: "bob", reason: "spam", duration: { seconds: 3600n } });
    expect(banned.member?.state).toBe(MemberState.BANNED);
    expect(banned.member?.stateExpireTime).toBeDefined();
    expect((await failure(bob.sendMessage({ conversationId: id, clientMessageId: "e2e-b1", text: "still here?" }))).code).toBe(Code.NotFound);
    expect((await failure(bob.joinConversation({ conversationId: id }))).code).toBe(Code.PermissionDenied);
    expect((await failure(alice.addMembers({ conversationId: id, userIds: ["bob"] }))).code).toBe(Code.FailedPrecondition);
    expect((await alice.listMembers({ conversationId: id, state: MemberState.BANNED })).members.map((m) => m.userId)).toEqual(["bob"]);
    await alice.unbanMember({ conversationId: id, userId: "bob" });
    await bob.joinConversation({ conversationId: id });
    await bob.sendMessage({ conversationId: id, clientMessageId: "e2e-b2", text: "back" });
    const { events } = await alice.sync({ conversationId: id, afterSeq: 1n });
    expect(events.map((e) => [e.payload.case, e.actorId])).toEqual([
      ["memberBanned", "mod"],
      ["memberUnbanned", "alice"],
      ["memberJoined", "bob"],
      ["messageCreated", "bob"],
    ]);
  });

  it("blocks DMs either way", async () => {
    const [alice, bob] = [as("alice"), as("bob")];
    const id = (await alice.createConversation({ type: ConversationType.DIRECT, memberIds: ["bob"] })).conversation!.id;
    await alice.blockUser({ userId: "bob" });
    expect((await failure(bob.sendMessage({ conversationId: id, clientMessageId: "e2e-d1", text: "hi" }))).code).toBe(Code.PermissionDenied);
    expect((await failure(alice.sendMessage({ conversationId: id, clientMessageId: "e2e-d2", text: "hi" }))).code).toBe(Code.PermissionDenied);
    expect((await alice.listBlockedUsers({})).blockedUsers.map((b) => b.userId)).toEqual(["bob"]);
    await alice.unblockUser({ userId: "bob" });
    await bob.sendMessage({ conversationId: id, clientMessageId: "e2e-d3", text: "hi again" });
  });

  it("applies a tenant's role grants set through auth (UpdateTenant) once the settings change reaches chat", async () => {
    const [alice, bob] = [as("alice"), as("bob")];
    const id = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    const { messageId } = await bob.sendMessage({ conversationId: id, clientMessageId: "e2e-g1", text: "pin me" });
    expect((await failure(bob.pinMessage({ conversationId: id, messageId }))).code).toBe(Code.PermissionDenied);
    const bad = await failure(
      tenant.admin.updateTenant({ tenant: { id: tenant.tenantId, settings: { roleGrants: [{ role: "user", actions: ["message.fly"] }] } }, updateMask: { paths: ["settings.role_grants"] } }),
    );
    expect(bad.code).toBe(Code.InvalidArgument);
    const updated = await tenant.admin.updateTenant({
      tenant: { id: tenant.tenantId, settings: { roleGrants: [{ role: "user", actions: ["message.pin"] }] } },
      updateMask: { paths: ["settings.role_grants"] },
    });
    expect(updated.tenant?.settings?.roleGrants.map((g) => [g.role, g.actions])).toEqual([["user", ["message.pin"]]]);
    // The chat instance cached the defaults; the TenantSettingsChanged event drops them (poll, no fixed sleep).
    const deadline = Date.now() + 20_000;
    for (;;) {
      const refused = await bob.pinMessage({ conversationId: id, messageId }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      if (!refused) break;
      expect(refused.code).toBe(Code.PermissionDenied);
      if (Date.now() > deadline) expect.fail("the role grant did not reach chat within 20 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await alice.listPins({ conversationId: id })).pins.map((p) => p.message?.id)).toEqual([messageId]);
  });
});
