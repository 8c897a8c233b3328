import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AuthEventActorKind, AuthEventEnvelopeSchema, SessionRevokeReason as ProtoReason } from "@caas/gen/caas/events/v1/auth_events_pb.js";
import type { User } from "@caas/gen/caas/auth/v1/user_pb.js";
import { AUTH_EVENTS } from "@caas/shared/eventing/topics";
import { CORRELATION_HEADER } from "@caas/shared/interceptors/correlation";
import { currentScope, type Principal } from "@caas/shared/context";
import { newId } from "@caas/shared/ids";
import { revocationsOf, type RevocationSet } from "@caas/shared/identity/revocations";
import type { Clock } from "@caas/shared/clock";
import type { EventBus } from "@caas/shared/eventing/bus";
import type { Logger } from "@caas/shared/logger";
import type { RevocationStore } from "./ports/revocation-store.js";
import type { SessionRecord, SessionRevokeReason } from "./ports/session-store.js";

/** What the publisher writes to and which deny-set it updates at once. */
export interface AuthEventPublisherDeps {
  bus: EventBus;
  /** The auth service's own deny-set: revocations apply to it before they are published. */
  revocations: RevocationSet;
  /** Where the published deny-set entries are kept for ListRevocations (verifiers starting late). */
  store?: RevocationStore;
  clock: Clock;
  logger: Logger;
}

/** One payload case of the envelope, as an init shape. */
type Payload = Extract<NonNullable<MessageInitShape<typeof AuthEventEnvelopeSchema>["payload"]>, { case: string }>;

const REASONS: Record<SessionRevokeReason, ProtoReason> = {
  "sign-out": ProtoReason.SIGN_OUT,
  "revoked-by-user": ProtoReason.REVOKED_BY_USER,
  "refresh-token-reused": ProtoReason.REFRESH_TOKEN_REUSED,
  "user-erased": ProtoReason.USER_ERASED,
  "user-deleted": ProtoReason.USER_DELETED,
};

/**
 * Publishes identity changes on `caas.auth.events.v1` (key = tenant id, header and field
 * x-correlation-id from the request being served). Every call publishes, also when the change
 * was already made (a retried RPC), so a publish that failed after the store write is made good
 * by the retry; consumers are idempotent. Revocations are applied to the auth service's own
 * deny-set first, so auth refuses the revoked tokens even before the record comes back, and
 * recorded in the RevocationStore, from which verifiers that start later load them.
 */
export class AuthEventPublisher {
  constructor(private readonly deps: AuthEventPublisherDeps) {}

  /** A session ended early: tokens with its `sid` issued until its revoke time are denied. */
  sessionRevoked(s: SessionRecord): Promise<void> {
    return this.publish(s.tenantId, s.revokeTimeMs ?? this.deps.clock.nowMs(), {
      case: "sessionRevoked",
      value: { userId: s.userId, sessionId: s.id, reason: s.revokeReason ? REASONS[s.revokeReason] : ProtoReason.UNSPECIFIED },
    });
  }

  userDeactivated(tenantId: string, userId: string, actor?: Principal): Promise<void> {
    return this.publish(tenantId, this.deps.clock.nowMs(), { case: "userDeactivated", value: { userId } }, actor);
  }

  userReactivated(tenantId: string, userId: string, actor?: Principal): Promise<void> {
    return this.publish(tenantId, this.deps.clock.nowMs(), { case: "userReactivated", value: { userId } }, actor);
  }

  userDeleted(tenantId: string, userId: string, actor?: Principal): Promise<void> {
    return this.publish(tenantId, this.deps.clock.nowMs(), { case: "userDeleted", value: { userId } }, actor);
  }

  tenantSuspended(tenantId: string, actor?: Principal): Promise<void> {
    return this.publish(tenantId, this.deps.clock.nowMs(), { case: "tenantSuspended", value: {} }, actor);
  }

  tenantResumed(tenantId: string, actor?: Principal): Promise<void> {
    return this.publish(tenantId, this.deps.clock.nowMs(), { case: "tenantResumed", value: {} }, actor);
  }

  /** The tenant's settings changed: caches of derived answers (ABAC role grants) are dropped. */
  tenantSettingsChanged(tenantId: string, actor?: Principal): Promise<void> {
    return this.publish(tenantId, this.deps.clock.nowMs(), { case: "tenantSettingsChanged", value: {} }, actor);
  }

  apiKeyRevoked(tenantId: string, apiKeyId: string, timeMs: number, actor?: Principal): Promise<void> {
    return this.publish(tenantId, timeMs, { case: "apiKeyRevoked", value: { apiKeyId } }, actor);
  }

  /** A user was created or its profile replaced (UserAdminService.UpsertUser). */
  userUpserted(user: User, created: boolean, actor?: Principal): Promise<void> {
    return this.publish(user.tenantId, this.deps.clock.nowMs(), { case: "userUpserted", value: { user, created } }, actor);
  }

  tenantCreated(tenantId: string, actor?: Principal): Promise<void> {
    return this.publish(tenantId, this.deps.clock.nowMs(), { case: "tenantCreated", value: {} }, actor);
  }

  apiKeyCreated(tenantId: string, apiKeyId: string, actor?: Principal): Promise<void> {
    return this.publish(tenantId, this.deps.clock.nowMs(), { case: "apiKeyCreated", value: { apiKeyId } }, actor);
  }

  apiKeyRotated(tenantId: string, apiKeyId: string, previousApiKeyId: string, previousExpireTimeMs: number, actor?: Principal): Promise<void> {
    return this.publish(tenantId, this.deps.clock.nowMs(), { case: "apiKeyRotated", value: { apiKeyId, previousApiKeyId, previousExpireTime: timestampFromMs(previousExpireTimeMs) } }, actor);
  }

  totpEnabled(tenantId: string, userId: string, actor?: Principal): Promise<void> {
    return this.publish(tenantId, this.deps.clock.nowMs(), { case: "totpEnabled", value: { userId } }, actor);
  }

  totpDisabled(tenantId: string, userId: string, actor?: Principal): Promise<void> {
    return this.publish(tenantId, this.deps.clock.nowMs(), { case: "totpDisabled", value: { userId } }, actor);
  }

  /** A password sign-in attempt and how it ended. */
  signInAttempted(tenantId: string, attempt: { userId?: string; succeeded: boolean; failure?: string; sessionId?: string; mfaPending?: boolean }): Promise<void> {
    return this.publish(tenantId, this.deps.clock.nowMs(), {
      case: "signInAttempted",
      value: { userId: attempt.userId ?? "", succeeded: attempt.succeeded, failure: attempt.failure ?? "", sessionId: attempt.sessionId ?? "", mfaPending: attempt.mfaPending ?? false },
    });
  }

  private async publish(tenantId: string, timeMs: number, payload: Payload, actor?: Principal): Promise<void> {
    const correlationId = currentScope()?.correlationId ?? "";
    const value = create(AuthEventEnvelopeSchema, {
      eventId: newId(),
      tenantId,
      createTime: timestampFromMs(timeMs),
      correlationId,
      ...(actor ? { actor: actorOf(actor) } : {}),
      payload,
    });
    const entries = revocationsOf(value);
    for (const e of entries) this.deps.revocations.add(e);
    // Recorded before the publish: a verifier that lists them later never misses a published one.
    for (const e of entries) await this.deps.store?.add({ id: newId(), ...e });
    await this.deps.bus.publish(AUTH_EVENTS, [{ key: tenantId, value, headers: correlationId ? { [CORRELATION_HEADER]: correlationId } : {} }]);
    this.deps.logger.debug({ tenantId, event: payload.case, eventId: value.eventId }, "auth event published");
  }
}

/** The envelope's actor of a request's caller (anonymous callers are left out). */
function actorOf(p: Principal): { kind: AuthEventActorKind; id: string } | undefined {
  switch (p.kind) {
    case "user":
      return { kind: AuthEventActorKind.USER, id: p.userId };
    case "api-key":
      return { kind: AuthEventActorKind.API_KEY, id: p.apiKeyId };
    case "service":
      return { kind: AuthEventActorKind.SERVICE, id: p.service };
    case "platform-admin":
      return { kind: AuthEventActorKind.PLATFORM_ADMIN, id: "" };
    case "anonymous":
      return undefined;
  }
}
