import { create, fromJsonString, toJsonString, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ApiKeySchema, type ApiKey } from "@caas/gen/caas/auth/v1/api_key_pb.js";
import { TenantSchema, TenantSettingsSchema, TenantStatus, type Tenant, type TenantSettings } from "@caas/gen/caas/auth/v1/tenant_pb.js";
import { UserSchema, UserStatus, type User } from "@caas/gen/caas/auth/v1/user_pb.js";
import type { ApiKeyRecord } from "../ports/api-key-store.js";
import { SessionSchema, type Session } from "@caas/gen/caas/auth/v1/session_pb.js";
import type { SessionRecord } from "../ports/session-store.js";
import type { TenantRecord, TenantState } from "../ports/tenant-store.js";
import type { UserRecord, UserState } from "../ports/user-store.js";

/*
 * Between stored records and the caas.auth.v1 messages. Pure.
 */

/** The stored form of tenant settings (proto3 JSON). */
export function settingsToJson(settings: TenantSettings | undefined): string {
  return toJsonString(TenantSettingsSchema, settings ?? create(TenantSettingsSchema));
}

/** Stored tenant settings as a message. */
export function settingsFromJson(json: string): TenantSettings {
  return fromJsonString(TenantSettingsSchema, json, { ignoreUnknownFields: true });
}

/** A stored tenant as caas.auth.v1.Tenant. */
export function tenantToProto(r: TenantRecord): Tenant {
  return create(TenantSchema, {
    id: r.id,
    name: r.name,
    status: tenantStatusToProto(r.status),
    settings: settingsFromJson(r.settings),
    createTime: timestampFromMs(r.createTimeMs),
    updateTime: timestampFromMs(r.updateTimeMs),
  });
}

/** A stored tenant state as the proto enum. */
export function tenantStatusToProto(s: TenantState): TenantStatus {
  return s === "active" ? TenantStatus.ACTIVE : s === "deleted" ? TenantStatus.DELETED : TenantStatus.SUSPENDED;
}

/** The store's filter for a List request's status; undefined lists all. */
export function tenantStatusFilter(s: TenantStatus): TenantState | undefined {
  if (s === TenantStatus.ACTIVE) return "active";
  if (s === TenantStatus.SUSPENDED) return "suspended";
  if (s === TenantStatus.DELETED) return "deleted";
  return undefined;
}

/** A stored API key as caas.auth.v1.ApiKey (never with its hash). */
export function apiKeyToProto(r: ApiKeyRecord): ApiKey {
  return create(ApiKeySchema, {
    id: r.id,
    tenantId: r.tenantId,
    name: r.name,
    prefix: r.prefix,
    createTime: timestampFromMs(r.createTimeMs),
    ...(r.lastUsedTimeMs > 0 ? { lastUsedTime: timestampFromMs(r.lastUsedTimeMs) } : {}),
    ...(r.revokeTimeMs === undefined ? {} : { revokeTime: timestampFromMs(r.revokeTimeMs) }),
  });
}

/** A stored user as caas.auth.v1.User. */
export function userToProto(r: UserRecord): User {
  return create(UserSchema, {
    id: r.id,
    tenantId: r.tenantId,
    displayName: r.displayName,
    avatarUrl: r.avatarUrl,
    ...(r.custom === "" ? {} : { custom: JSON.parse(r.custom) as JsonObject }),
    roles: r.roles,
    status: r.status === "active" ? UserStatus.ACTIVE : UserStatus.DEACTIVATED,
    createTime: timestampFromMs(r.createTimeMs),
    updateTime: timestampFromMs(r.updateTimeMs),
  });
}

/** The store's filter for ListUsers' status; undefined lists all. */
export function userStatusFilter(s: UserStatus): UserState | undefined {
  if (s === UserStatus.ACTIVE) return "active";
  if (s === UserStatus.DEACTIVATED) return "deactivated";
  return undefined;
}

/** A stored session as caas.auth.v1.Session; `current` when it is the caller's own. */
export function sessionToProto(r: SessionRecord, current: boolean): Session {
  return create(SessionSchema, {
    id: r.id,
    userId: r.userId,
    deviceId: r.deviceId,
    deviceName: r.deviceName,
    createTime: timestampFromMs(r.createTimeMs),
    lastSeenTime: timestampFromMs(r.lastSeenTimeMs),
    expireTime: timestampFromMs(r.expireTimeMs),
    mfaSatisfied: r.mfaSatisfied,
    current,
  });
}
