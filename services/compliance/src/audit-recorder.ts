import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { AUTH_EVENTS, CHAT_EVENTS, USER_STATE_EVENTS, scopeFromEvent, type BusRecord, type EventBus, type Logger, type Subscription } from "@caas/shared";
import { AuditActorKind, AuditOutcome } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { SessionRevokeReason, type AuthEventEnvelope } from "@caas/gen/caas/events/v1/auth_events_pb.js";
import type { ChatEventEnvelope } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import type { UserStateEventEnvelope } from "@caas/gen/caas/events/v1/user_state_events_pb.js";
import { MemberRole } from "@caas/gen/caas/chat/v1/member_pb.js";
import type { AuditAppender, AuditDraft } from "./audit-appender.js";

/** The tenant id platform-wide events (signing key rotation) are recorded under. */
export const PLATFORM_TENANT = "_platform";

/** The consumer group of the recorder on every topic. */
export const AUDIT_CONSUMER_GROUP = "compliance-audit";

type Mapped = { tenantId: string; draft: AuditDraft } | undefined;

const user = (id: string) => ({ kind: AuditActorKind.USER, id });
const service = (name: string) => ({ kind: AuditActorKind.SERVICE, id: name });
const msOf = (t: Timestamp | undefined, fallback: number) => (t ? Number(timestampMs(t)) : fallback);

/** The audit record of an auth event, or undefined for cases that are not security actions. */
export function auditOfAuthEvent(env: AuthEventEnvelope, nowMs: number): Mapped {
  const base = { sourceEventId: `auth:${env.eventId}`, source: AUTH_EVENTS.name, eventTimeMs: msOf(env.createTime, nowMs), correlationId: env.correlationId, outcome: AuditOutcome.SUCCESS };
  const tenantId = env.tenantId || PLATFORM_TENANT;
  const p = env.payload;
  const rec = (draft: Omit<AuditDraft, keyof typeof base>): Mapped => ({ tenantId, draft: { ...base, ...draft } });
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
      return rec({ actor: service("auth"), action: p.value.created ? "auth.user.create" : "auth.user.update", target: { type: "user", id: p.value.user?.id ?? "" } });
    case "userDeactivated":
      return rec({ actor: service("auth"), action: "auth.user.deactivate", target: { type: "user", id: p.value.userId } });
    case "userReactivated":
      return rec({ actor: service("auth"), action: "auth.user.reactivate", target: { type: "user", id: p.value.userId } });
    case "userDeleted":
      return rec({ actor: service("auth"), action: "auth.user.delete", target: { type: "user", id: p.value.userId } });
    case "tenantSuspended":
      return rec({ actor: { kind: AuditActorKind.PLATFORM_ADMIN, id: "" }, action: "auth.tenant.suspend", target: { type: "tenant", id: env.tenantId } });
    case "tenantResumed":
      return rec({ actor: { kind: AuditActorKind.PLATFORM_ADMIN, id: "" }, action: "auth.tenant.resume", target: { type: "tenant", id: env.tenantId } });
    case "tenantSettingsChanged":
      return rec({ actor: service("auth"), action: "auth.tenant.settings_change", target: { type: "tenant", id: env.tenantId } });
    case "apiKeyRevoked":
      return rec({ actor: service("auth"), action: "auth.api_key.revoke", target: { type: "api_key", id: p.value.apiKeyId } });
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
      return rec("chat.message.delete", { type: "message", id: p.value.messageId }, p.value.mediaIds.length ? { media_ids: p.value.mediaIds.join(",") } : undefined);
    default:
      return undefined;
  }
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
 * Records security actions from the bus: one consumer group on the auth, chat and user-state
 * topics. Delivery is at least once; the appender's unique source key makes each event one
 * record however often it arrives. The correlation id is the envelope's, or the record's
 * `x-correlation-id` header.
 */
export class AuditRecorder {
  private subs: Subscription[] = [];

  constructor(private readonly opts: { bus: EventBus; appender: AuditAppender; nowMs: () => number; logger: Logger }) {}

  async start(): Promise<void> {
    const opts = { group: AUDIT_CONSUMER_GROUP, from: "earliest" as const };
    this.subs.push(await this.opts.bus.subscribe(AUTH_EVENTS, opts, (r) => this.record(r, auditOfAuthEvent(r.value, this.opts.nowMs()))));
    this.subs.push(await this.opts.bus.subscribe(CHAT_EVENTS, opts, (r) => this.record(r, auditOfChatEvent(r.value, this.opts.nowMs()))));
    this.subs.push(await this.opts.bus.subscribe(USER_STATE_EVENTS, opts, (r) => this.record(r, auditOfUserStateEvent(r.value, this.opts.nowMs()))));
  }

  async stop(): Promise<void> {
    const subs = this.subs;
    this.subs = [];
    await Promise.all(subs.map((s) => s.close()));
  }

  private async record(record: BusRecord, mapped: Mapped): Promise<void> {
    if (!mapped || !mapped.tenantId) return;
    const draft = { ...mapped.draft, correlationId: mapped.draft.correlationId || record.headers["x-correlation-id"] || "" };
    let scope;
    try {
      scope = scopeFromEvent({ tenantId: mapped.tenantId });
    } catch {
      this.opts.logger.warn({ tenantId: mapped.tenantId, source: draft.source }, "audit: event with a malformed tenant id skipped");
      return;
    }
    await this.opts.appender.append(scope, draft);
  }
}
