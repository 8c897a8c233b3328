import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { AUTH_EVENTS, CHAT_EVENTS, MEDIA_EVENTS, USER_STATE_EVENTS } from "@caas/shared/eventing/topics";
import type { MediaEventEnvelope } from "@caas/gen/caas/events/v1/media_events_pb.js";
import { scopeFromEvent, type TenantScope } from "@caas/shared/tenant-scope";
import type { BusRecord, EventBus, Subscription } from "@caas/shared/eventing/bus";
import type { Logger } from "@caas/shared/logger";
import { AuditActorKind, AuditOutcome } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { AuthEventActorKind, SessionRevokeReason, type AuthEventActor, type AuthEventEnvelope } from "@caas/gen/caas/events/v1/auth_events_pb.js";
import type { ChatEventEnvelope } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import type { UserStateEventEnvelope } from "@caas/gen/caas/events/v1/user_state_events_pb.js";
import { MemberRole } from "@caas/gen/caas/chat/v1/member_pb.js";
import type { AuditAppender, AuditDraft } from "./audit-appender.js";

/** The tenant id platform-wide events (signing key rotation) are recorded under. */
export const PLATFORM_TENANT = "_platform";

/** The consumer group prefix of the recorder: one group per topic (`compliance-audit.<topic>`), since Kafka assigns a group's partitions across all its members' topics. */
export const AUDIT_CONSUMER_GROUP = "compliance-audit";

type Mapped = { tenantId: string; draft: AuditDraft } | undefined;

const user = (id: string) => ({ kind: AuditActorKind.USER, id });
const service = (name: string) => ({ kind: AuditActorKind.SERVICE, id: name });
const msOf = (t: Timestamp | undefined, fallback: number) => (t ? Number(timestampMs(t)) : fallback);

const ACTOR_KINDS: Record<AuthEventActorKind, AuditActorKind> = {
  [AuthEventActorKind.UNSPECIFIED]: AuditActorKind.UNSPECIFIED,
  [AuthEventActorKind.USER]: AuditActorKind.USER,
  [AuthEventActorKind.API_KEY]: AuditActorKind.API_KEY,
  [AuthEventActorKind.SERVICE]: AuditActorKind.SERVICE,
  [AuthEventActorKind.PLATFORM_ADMIN]: AuditActorKind.PLATFORM_ADMIN,
};

/** The caller the event names; otherwise the given default (who alone can make that change). */
function actorOf(actor: AuthEventActor | undefined, fallback: AuditDraft["actor"]): AuditDraft["actor"] {
  if (!actor || actor.kind === AuthEventActorKind.UNSPECIFIED) return fallback;
  return { kind: ACTOR_KINDS[actor.kind] ?? AuditActorKind.UNSPECIFIED, id: actor.id };
}

/** The audit record of an auth event, or undefined for cases that are not security actions. */
export function auditOfAuthEvent(env: AuthEventEnvelope, nowMs: number): Mapped {
  const base = { sourceEventId: `auth:${env.eventId}`, source: AUTH_EVENTS.name, eventTimeMs: msOf(env.createTime, nowMs), correlationId: env.correlationId, outcome: AuditOutcome.SUCCESS };
  const tenantId = env.tenantId || PLATFORM_TENANT;
  const p = env.payload;
  const rec = (draft: Omit<AuditDraft, keyof typeof base> & { outcome?: AuditOutcome }): Mapped => ({
    tenantId,
    draft: { ...base, ...draft, outcome: draft.outcome ?? base.outcome, actor: actorOf(env.actor, draft.actor) },
  });
  const admin = { kind: AuditActorKind.PLATFORM_ADMIN, id: "" };
  switch (p.case) {
    case "sessionRevoked": {
      const reused = p.value.reason === SessionRevokeReason.REFRESH_TOKEN_REUSED;
      return rec({
        actor: reused ? service("auth") : user(p.value.userId),
        action: reused ? "auth.refresh_token.reuse_detected" : "auth.session.revoke",
        target: { type: "session", id: p.value.sessionId },
        details: { user_id: p.value.userId, reason: SessionRevokeReason[p.value.reason] ?? String(p.value.reason) },
      });
    }
    case "userUpserted":
      return rec({
        actor: service("auth"),
        action: p.value.created ? "auth.user.create" : "auth.user.update",
        target: { type: "user", id: p.value.user?.id ?? "" },
        details: { roles: (p.value.user?.roles ?? []).join(",") },
      });
    case "userDeactivated":
      return rec({ actor: service("auth"), action: "auth.user.deactivate", target: { type: "user", id: p.value.userId } });
    case "userReactivated":
      return rec({ actor: service("auth"), action: "auth.user.reactivate", target: { type: "user", id: p.value.userId } });
    case "userDeleted":
      return rec({ actor: service("auth"), action: "auth.user.delete", target: { type: "user", id: p.value.userId } });
    case "tenantCreated":
      return rec({ actor: admin, action: "auth.tenant.create", target: { type: "tenant", id: env.tenantId } });
    case "tenantSuspended":
      return rec({ actor: admin, action: "auth.tenant.suspend", target: { type: "tenant", id: env.tenantId } });
    case "tenantResumed":
      return rec({ actor: admin, action: "auth.tenant.resume", target: { type: "tenant", id: env.tenantId } });
    case "tenantSettingsChanged":
      return rec({ actor: admin, action: "auth.tenant.update", target: { type: "tenant", id: env.tenantId } });
    case "apiKeyCreated":
      return rec({ actor: admin, action: "auth.api_key.create", target: { type: "api_key", id: p.value.apiKeyId } });
    case "apiKeyRotated":
      return rec({
        actor: admin,
        action: "auth.api_key.rotate",
        target: { type: "api_key", id: p.value.apiKeyId },
        details: { previous_api_key_id: p.value.previousApiKeyId, ...(p.value.previousExpireTime ? { previous_expire_time_ms: String(timestampMs(p.value.previousExpireTime)) } : {}) },
      });
    case "apiKeyRevoked":
      return rec({ actor: admin, action: "auth.api_key.revoke", target: { type: "api_key", id: p.value.apiKeyId } });
    case "signInAttempted": {
      const a = p.value;
      return rec({
        actor: user(a.userId),
        action: "auth.sign_in",
        target: { type: "user", id: a.userId },
        outcome: a.succeeded ? AuditOutcome.SUCCESS : AuditOutcome.FAILURE,
        details: { ...(a.failure ? { failure: a.failure } : {}), ...(a.sessionId ? { session_id: a.sessionId } : {}), ...(a.mfaPending ? { mfa_pending: "true" } : {}) },
      });
    }
    case "totpEnabled":
      return rec({ actor: user(p.value.userId), action: "auth.mfa.enable", target: { type: "user", id: p.value.userId }, details: { factor: "totp" } });
    case "totpDisabled":
      return rec({ actor: user(p.value.userId), action: "auth.mfa.disable", target: { type: "user", id: p.value.userId }, details: { factor: "totp" } });
    case "signingKeyRotated":
      return rec({
        actor: service("auth"),
        action: "auth.signing_key.rotate",
        target: { type: "signing_key", id: p.value.kid },
        details: { revoked_kids: p.value.revokedKids.join(",") },
      });
    default:
      return undefined;
  }
}

/** The audit record of a conversation log event: moderation, role changes, removals, deletions. */
export function auditOfChatEvent(env: ChatEventEnvelope, nowMs: number): Mapped {
  if (env.payload.case !== "event") return undefined;
  const e = env.payload.value;
  const p = e.payload;
  const conversationId = env.conversationId || e.conversationId;
  const rec = (action: string, target: { type: string; id: string }, details?: Record<string, string>): Mapped => ({
    tenantId: env.tenantId,
    draft: {
      sourceEventId: `chat:${e.eventId || `${conversationId}/${e.seq}`}`,
      source: CHAT_EVENTS.name,
      eventTimeMs: msOf(e.createTime, nowMs),
      actor: user(e.actorId),
      action,
      target: { ...target, conversationId },
      outcome: AuditOutcome.SUCCESS,
      correlationId: env.correlationId,
      details: { seq: String(e.seq), ...details },
    },
  });
  const expiry = (t: Timestamp | undefined) => (t ? { expire_time_ms: String(timestampMs(t)) } : undefined);
  switch (p.case) {
    case "memberMuted":
      return rec("chat.member.mute", { type: "user", id: p.value.userId }, expiry(p.value.expireTime));
    case "memberUnmuted":
      return rec("chat.member.unmute", { type: "user", id: p.value.userId });
    case "memberBanned":
      return rec("chat.member.ban", { type: "user", id: p.value.userId }, expiry(p.value.expireTime));
    case "memberUnbanned":
      return rec("chat.member.unban", { type: "user", id: p.value.userId });
    case "memberRemoved":
      return rec("chat.member.remove", { type: "user", id: p.value.userId });
    case "memberRoleChanged":
      return rec("chat.member.role_change", { type: "user", id: p.value.userId }, { role: MemberRole[p.value.role] ?? String(p.value.role) });
    case "conversationFrozen":
      return rec("chat.conversation.freeze", { type: "conversation", id: conversationId });
    case "conversationUnfrozen":
      return rec("chat.conversation.unfreeze", { type: "conversation", id: conversationId });
    case "conversationDeleted":
      return rec("chat.conversation.delete", { type: "conversation", id: conversationId });
    case "messageDeleted":
      // Deletes by retention are recorded once per run (compliance.retention.run), not per message.
      if (p.value.expired) return undefined;
      return rec(
        "chat.message.delete",
        { type: "message", id: p.value.messageId },
        {
          ...(p.value.mediaIds.length ? { media_ids: p.value.mediaIds.join(",") } : {}),
          // Someone else's message: a moderator (or tenant-granted) delete.
          ...(p.value.senderId && p.value.senderId !== e.actorId ? { sender_id: p.value.senderId, by_moderator: "true" } : {}),
        },
      );
    default:
      return undefined;
  }
}

/** The audit record of a media event: deletions by the uploader. */
export function auditOfMediaEvent(env: MediaEventEnvelope, nowMs: number): Mapped {
  if (env.payload.case !== "mediaDeleted") return undefined;
  const d = env.payload.value;
  return {
    tenantId: env.tenantId,
    draft: {
      sourceEventId: `media:${env.eventId}`,
      source: MEDIA_EVENTS.name,
      eventTimeMs: msOf(env.createTime, nowMs),
      actor: user(env.actorUserId),
      action: "media.delete",
      target: { type: "media", id: d.mediaId },
      outcome: AuditOutcome.SUCCESS,
      correlationId: env.correlationId,
      details: { owner_id: d.ownerId },
    },
  };
}

/** The audit record of a per-user state event: blocks and unblocks. */
export function auditOfUserStateEvent(env: UserStateEventEnvelope, nowMs: number): Mapped {
  const p = env.payload;
  if (p.case !== "userBlocked" && p.case !== "userUnblocked") return undefined;
  return {
    tenantId: env.tenantId,
    draft: {
      sourceEventId: `userstate:${env.eventId}`,
      source: USER_STATE_EVENTS.name,
      eventTimeMs: msOf(env.createTime, nowMs),
      actor: user(env.userId),
      action: p.case === "userBlocked" ? "chat.user.block" : "chat.user.unblock",
      target: { type: "user", id: p.value.blockedUserId },
      outcome: AuditOutcome.SUCCESS,
      correlationId: env.correlationId,
    },
  };
}

/**
 * Records security actions from the bus: a consumer group per topic on the auth, chat,
 * user-state and media topics. Delivery is at least once: the records of a bus batch are appended
 * per tenant with one `appendBatch` (its records in delivery order), and the appender's unique
 * source key makes each event one record however often it arrives. The correlation id is the
 * envelope's, or the record's `x-correlation-id` header.
 */
export class AuditRecorder {
  private subs: Subscription[] = [];

  constructor(private readonly opts: { bus: EventBus; appender: AuditAppender; nowMs: () => number; logger: Logger }) {}

  async start(): Promise<void> {
    const opts = (topic: { name: string }) => ({ group: `${AUDIT_CONSUMER_GROUP}.${topic.name}`, from: "earliest" as const });
    const { bus } = this.opts;
    this.subs.push(await bus.subscribeBatches(AUTH_EVENTS, opts(AUTH_EVENTS), (b) => this.record(b.records.map((r) => [r, auditOfAuthEvent(r.value, this.opts.nowMs())]))));
    this.subs.push(await bus.subscribeBatches(CHAT_EVENTS, opts(CHAT_EVENTS), (b) => this.record(b.records.map((r) => [r, auditOfChatEvent(r.value, this.opts.nowMs())]))));
    this.subs.push(await bus.subscribeBatches(USER_STATE_EVENTS, opts(USER_STATE_EVENTS), (b) => this.record(b.records.map((r) => [r, auditOfUserStateEvent(r.value, this.opts.nowMs())]))));
    this.subs.push(await bus.subscribeBatches(MEDIA_EVENTS, opts(MEDIA_EVENTS), (b) => this.record(b.records.map((r) => [r, auditOfMediaEvent(r.value, this.opts.nowMs())]))));
  }

  async stop(): Promise<void> {
    const subs = this.subs;
    this.subs = [];
    await Promise.all(subs.map((s) => s.close()));
  }

  private async record(batch: [BusRecord, Mapped][]): Promise<void> {
    const byTenant = new Map<string, { scope: TenantScope; drafts: AuditDraft[] }>();
    for (const [record, mapped] of batch) {
      if (!mapped || !mapped.tenantId) continue;
      const draft = { ...mapped.draft, correlationId: mapped.draft.correlationId || record.headers["x-correlation-id"] || "" };
      let group = byTenant.get(mapped.tenantId);
      if (!group) {
        try {
          group = { scope: scopeFromEvent({ tenantId: mapped.tenantId }), drafts: [] };
        } catch {
          this.opts.logger.warn({ tenantId: mapped.tenantId, source: draft.source }, "audit: event with a malformed tenant id skipped");
          continue;
        }
        byTenant.set(mapped.tenantId, group);
      }
      group.drafts.push(draft);
    }
    for (const { scope, drafts } of byTenant.values()) await this.opts.appender.appendBatch(scope, drafts);
  }
}
