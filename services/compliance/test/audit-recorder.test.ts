import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AuditActorKind } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { AuthEventActorKind, AuthEventEnvelopeSchema, SessionRevokeReason } from "@caas/gen/caas/events/v1/auth_events_pb.js";
import { ChatEventEnvelopeSchema } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { UserStateEventEnvelopeSchema } from "@caas/gen/caas/events/v1/user_state_events_pb.js";
import { MemberRole } from "@caas/gen/caas/chat/v1/member_pb.js";
import { describe, expect, it } from "vitest";
import { auditOfAuthEvent, auditOfChatEvent, auditOfUserStateEvent, PLATFORM_TENANT } from "../src/audit-recorder.js";

const T = Date.UTC(2026, 5, 1);
type AuthPayload = MessageInitShape<typeof AuthEventEnvelopeSchema>["payload"];
const auth = (payload: AuthPayload, actor?: { kind: AuthEventActorKind; id: string }) =>
  create(AuthEventEnvelopeSchema, { eventId: "e1", tenantId: "acme", createTime: timestampFromMs(T), correlationId: "c1", payload, ...(actor ? { actor } : {}) });
const summary = (m: ReturnType<typeof auditOfAuthEvent>) =>
  m && { tenant: m.tenantId, action: m.draft.action, actor: [AuditActorKind[m.draft.actor.kind], m.draft.actor.id], target: [m.draft.target.type, m.draft.target.id], details: m.draft.details ?? {} };

describe("audit records of auth events", () => {
  it("maps every security case with its actor, target and details, and keeps the source event id, time and correlation id", () => {
    const apiKey = { kind: AuthEventActorKind.API_KEY, id: "k1" };
    const admin = { kind: AuthEventActorKind.PLATFORM_ADMIN, id: "" };
    const m = auditOfAuthEvent(auth({ case: "userUpserted", value: { user: { id: "u1", tenantId: "acme", roles: ["admin", "moderator"] }, created: true } }, apiKey), 0)!;
    expect(m.draft).toMatchObject({ sourceEventId: "auth:e1", source: "caas.auth.events.v1", eventTimeMs: T, correlationId: "c1" });
    expect(summary(m)).toEqual({ tenant: "acme", action: "auth.user.create", actor: ["API_KEY", "k1"], target: ["user", "u1"], details: { roles: "admin,moderator" } });
    const cases: [NonNullable<AuthPayload>, { kind: AuthEventActorKind; id: string } | undefined, unknown][] = [
      [
        { case: "sessionRevoked", value: { userId: "u1", sessionId: "s1", reason: SessionRevokeReason.SIGN_OUT } },
        undefined,
        { action: "auth.session.revoke", actor: ["USER", "u1"], target: ["session", "s1"] },
      ],
      [
        { case: "sessionRevoked", value: { userId: "u1", sessionId: "s1", reason: SessionRevokeReason.REFRESH_TOKEN_REUSED } },
        undefined,
        { action: "auth.refresh_token.reuse_detected", actor: ["SERVICE", "auth"] },
      ],
      [{ case: "userDeactivated", value: { userId: "u1" } }, apiKey, { action: "auth.user.deactivate", actor: ["API_KEY", "k1"] }],
      [{ case: "userDeleted", value: { userId: "u1" } }, apiKey, { action: "auth.user.delete", target: ["user", "u1"] }],
      [{ case: "tenantCreated", value: {} }, admin, { action: "auth.tenant.create", actor: ["PLATFORM_ADMIN", ""], target: ["tenant", "acme"] }],
      [{ case: "tenantSettingsChanged", value: {} }, admin, { action: "auth.tenant.update" }],
      [{ case: "tenantSuspended", value: {} }, admin, { action: "auth.tenant.suspend" }],
      [{ case: "apiKeyCreated", value: { apiKeyId: "k2" } }, admin, { action: "auth.api_key.create", target: ["api_key", "k2"] }],
      [
        { case: "apiKeyRotated", value: { apiKeyId: "k3", previousApiKeyId: "k2", previousExpireTime: timestampFromMs(T + 5) } },
        admin,
        { action: "auth.api_key.rotate", details: { previous_api_key_id: "k2", previous_expire_time_ms: String(T + 5) } },
      ],
      [{ case: "apiKeyRevoked", value: { apiKeyId: "k2" } }, admin, { action: "auth.api_key.revoke", target: ["api_key", "k2"] }],
      [{ case: "totpEnabled", value: { userId: "u1" } }, undefined, { action: "auth.mfa.enable", actor: ["USER", "u1"] }],
      [{ case: "totpDisabled", value: { userId: "u1" } }, undefined, { action: "auth.mfa.disable", actor: ["USER", "u1"] }],
    ];
    for (const [payload, actor, expected] of cases) expect(summary(auditOfAuthEvent(auth(payload, actor), 0)), String(payload.case)).toMatchObject(expected as object);
  });

  it("records platform-wide signing key rotation under the platform tenant", () => {
    const env = create(AuthEventEnvelopeSchema, { eventId: "e2", payload: { case: "signingKeyRotated", value: { kid: "kid2", revokedKids: ["kid1"] } } });
    expect(summary(auditOfAuthEvent(env, T))).toEqual({
      tenant: PLATFORM_TENANT,
      action: "auth.signing_key.rotate",
      actor: ["SERVICE", "auth"],
      target: ["signing_key", "kid2"],
      details: { revoked_kids: "kid1" },
    });
  });

  it("skips cases that are not security actions", () => {
    expect(auditOfAuthEvent(auth({ case: "userReactivated", value: { userId: "u1" } }), 0)?.draft.action).toBe("auth.user.reactivate");
    expect(auditOfAuthEvent(auth({ case: undefined }), 0)).toBeUndefined();
  });
});

describe("audit records of chat and user-state events", () => {
  const chat = (payload: object) =>
    create(ChatEventEnvelopeSchema, {
      tenantId: "acme",
      conversationId: "conv1",
      correlationId: "c2",
      payload: { case: "event", value: { conversationId: "conv1", seq: 7n, eventId: "ev7", actorId: "mod", createTime: timestampFromMs(T), payload: payload as never } },
    });

  it("records moderation, role changes and deletions with the conversation, never free-text reasons or bodies", () => {
    const ban = auditOfChatEvent(chat({ case: "memberBanned", value: { userId: "bob", reason: "secret words", expireTime: timestampFromMs(T + 1000) } }), 0)!;
    expect(ban.draft).toMatchObject({
      sourceEventId: "chat:ev7",
      action: "chat.member.ban",
      actor: { kind: AuditActorKind.USER, id: "mod" },
      target: { type: "user", id: "bob", conversationId: "conv1" },
    });
    expect(ban.draft.details).toEqual({ seq: "7", expire_time_ms: String(T + 1000) });
    expect(JSON.stringify(ban)).not.toContain("secret words");
    const actions = [
      [{ case: "memberMuted", value: { userId: "bob" } }, "chat.member.mute"],
      [{ case: "memberUnmuted", value: { userId: "bob" } }, "chat.member.unmute"],
      [{ case: "memberUnbanned", value: { userId: "bob" } }, "chat.member.unban"],
      [{ case: "memberRemoved", value: { userId: "bob" } }, "chat.member.remove"],
      [{ case: "memberRoleChanged", value: { userId: "bob", role: MemberRole.ADMIN } }, "chat.member.role_change"],
      [{ case: "conversationFrozen", value: { reason: "x" } }, "chat.conversation.freeze"],
      [{ case: "conversationUnfrozen", value: {} }, "chat.conversation.unfreeze"],
      [{ case: "conversationDeleted", value: {} }, "chat.conversation.delete"],
      [{ case: "messageDeleted", value: { messageId: "m1", mediaIds: ["md1"] } }, "chat.message.delete"],
    ] as const;
    for (const [payload, action] of actions) expect(auditOfChatEvent(chat(payload), 0)?.draft.action).toBe(action);
    expect(auditOfChatEvent(chat({ case: "messageDeleted", value: { messageId: "m1", mediaIds: ["md1"] } }), 0)?.draft.details).toEqual({ seq: "7", media_ids: "md1" });
    expect(auditOfChatEvent(chat({ case: "messageCreated", value: { message: { text: "hello" } } }), 0)).toBeUndefined();
  });

  it("records blocks and unblocks by the blocking user", () => {
    const env = create(UserStateEventEnvelopeSchema, { eventId: "u9", tenantId: "acme", userId: "alice", payload: { case: "userBlocked", value: { blockedUserId: "bob" } } });
    expect(auditOfUserStateEvent(env, T)?.draft).toMatchObject({ sourceEventId: "userstate:u9", action: "chat.user.block", actor: { id: "alice" }, target: { id: "bob" } });
    expect(auditOfUserStateEvent(create(UserStateEventEnvelopeSchema, { eventId: "u10", tenantId: "acme", userId: "alice", payload: { case: "readMarkerMoved", value: {} } }), T)).toBeUndefined();
  });
});
