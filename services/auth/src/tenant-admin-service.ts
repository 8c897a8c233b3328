import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  TenantAdminService,
  type CreateApiKeyRequest,
  type CreateTenantRequest,
  type GetTenantRequest,
  type ListApiKeysRequest,
  type ListTenantsRequest,
  type ResumeTenantRequest,
  type RevokeApiKeyRequest,
  type RotateApiKeyRequest,
  type SuspendTenantRequest,
  type DeleteTenantRequest,
  type UpdateTenantRequest,
} from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { TenantSettingsSchema, type TenantSettings } from "@caas/gen/caas/auth/v1/tenant_pb.js";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError } from "@caas/shared/errors";
import { newId } from "@caas/shared/ids";
import { principalKey } from "@caas/shared/context";
import { scopeForAdmin, type TenantScope } from "@caas/shared/tenant-scope";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import { QuotaExceededError } from "./domain/errors.js";
import { checkRoleGrants } from "./domain/role-grants.js";
import { apiKeyToProto, settingsFromJson, settingsToJson, tenantStatusFilter, tenantToProto } from "./domain/mapping.js";
import { PLATFORM_BINDING_TENANT, type Pager } from "./domain/paging.js";
import { hashCredential, newApiKeySecret } from "./domain/secrets.js";
import type { ApiKeyRecord, ApiKeyStore } from "./ports/api-key-store.js";
import type { TenantChanges, TenantRecord, TenantState, TenantStore } from "./ports/tenant-store.js";
import { requireAdmin } from "./principals.js";
import type { AuthEventPublisher } from "./auth-events.js";

/** Active (not revoked) API keys a tenant may hold. */
export const MAX_ACTIVE_API_KEYS = 50;
/** Compare-and-set attempts of UpdateTenant before giving up UNAVAILABLE. */
const UPDATE_ATTEMPTS = 5;

/** The ports and helpers TenantAdminService is built from. */
export interface TenantAdminDeps {
  tenants: TenantStore;
  apiKeys: ApiKeyStore;
  pager: Pager;
  /** Pepper of API key hashes (Keyring.apiKeyPepper). */
  apiKeyPepper: Buffer;
  events: AuthEventPublisher;
  clock: Clock;
  logger: Logger;
  /** Asks compliance to delete the tenant with the caller's `authorization` header; the job id (tenant-deletion.ts). Absent: DeleteTenant is FAILED_PRECONDITION. */
  requestDeletion?: (tenantId: string, reason: string, authorization: string) => Promise<string>;
}

/**
 * caas.auth.v1.TenantAdminService: tenants and their API keys, for the platform admin only. A
 * platform-admin call names its tenant explicitly, so its TenantScope comes from scopeForAdmin
 * after the admin credential was verified.
 */
export class TenantAdminServiceImpl implements ServiceImpl<typeof TenantAdminService> {
  constructor(private readonly deps: TenantAdminDeps) {}

  async createTenant(req: CreateTenantRequest, ctx: HandlerContext) {
    requireAdmin(ctx);
    checkRoleGrants(req.settings, "settings.role_grants");
    const now = this.deps.clock.nowMs();
    const record: TenantRecord = {
      id: newId(),
      name: req.name,
      status: "active",
      settings: settingsToJson(req.settings),
      createTimeMs: now,
      updateTimeMs: now,
      revision: 1,
    };
    await this.deps.tenants.create(record);
    this.deps.logger.info({ tenantId: record.id }, "tenant created");
    await this.deps.events.tenantCreated(record.id, ctx.values.get(principalKey));
    return { tenant: tenantToProto(record) };
  }

  async getTenant(req: GetTenantRequest, ctx: HandlerContext) {
    requireAdmin(ctx);
    return { tenant: tenantToProto(await this.tenant(scopeForAdmin(req.tenantId))) };
  }

  async listTenants(req: ListTenantsRequest, ctx: HandlerContext) {
    requireAdmin(ctx);
    const status = tenantStatusFilter(req.status);
    const binding = { tenantId: PLATFORM_BINDING_TENANT, query: `tenants;status=${status ?? "any"}` };
    const afterId = this.deps.pager.after(binding, req.pageToken);
    const { rows, nextPageToken } = await this.deps.pager.page(
      binding,
      req.pageSize,
      (limit) => this.deps.tenants.list({ status, afterId, limit }),
      (t) => t.id,
    );
    return { tenants: rows.map(tenantToProto), nextPageToken };
  }

  async updateTenant(req: UpdateTenantRequest, ctx: HandlerContext) {
    requireAdmin(ctx);
    const given = req.tenant!;
    const paths = req.updateMask?.paths ?? [];
    const settingsFields = checkMask(paths);
    checkRoleGrants(given.settings);
    const scope = scopeForAdmin(given.id);
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
      const current = await this.tenant(scope);
      const changes: TenantChanges = {};
      if (paths.includes("name")) changes.name = given.name;
      if (paths.includes("settings")) changes.settings = settingsToJson(given.settings);
      else if (settingsFields.length > 0) changes.settings = settingsToJson(mergeSettings(settingsFromJson(current.settings), given.settings, settingsFields));
      const updated = await this.deps.tenants.update(scope, changes, this.deps.clock.nowMs(), current.revision);
      if (updated) {
        // Services caching answers derived from the settings (the ABAC role grants) drop them.
        if (changes.settings !== undefined && changes.settings !== current.settings) await this.deps.events.tenantSettingsChanged(updated.id, ctx.values.get(principalKey));
        return { tenant: tenantToProto(updated) };
      }
    }
    throw new UnavailableError("the tenant changed concurrently; retry");
  }

  async suspendTenant(req: SuspendTenantRequest, ctx: HandlerContext) {
    requireAdmin(ctx);
    const tenant = await this.setStatus(scopeForAdmin(req.tenantId), "suspended");
    this.deps.logger.info({ tenantId: tenant.id, reason: req.reason }, "tenant suspended");
    await this.deps.events.tenantSuspended(tenant.id, ctx.values.get(principalKey));
    return { tenant: tenantToProto(tenant) };
  }

  async resumeTenant(req: ResumeTenantRequest, ctx: HandlerContext) {
    requireAdmin(ctx);
    const tenant = await this.setStatus(scopeForAdmin(req.tenantId), "active");
    this.deps.logger.info({ tenantId: tenant.id }, "tenant resumed");
    await this.deps.events.tenantResumed(tenant.id, ctx.values.get(principalKey));
    return { tenant: tenantToProto(tenant) };
  }

  async deleteTenant(req: DeleteTenantRequest, ctx: HandlerContext) {
    requireAdmin(ctx);
    if (!this.deps.requestDeletion) throw new FailedPreconditionError("tenant deletion needs the compliance service");
    const jobId = await this.deps.requestDeletion(req.tenantId, req.reason, ctx.requestHeader.get("authorization") ?? "");
    this.deps.logger.warn({ tenantId: req.tenantId, jobId, reason: req.reason }, "tenant deletion requested");
    return { tenant: tenantToProto(await this.tenant(scopeForAdmin(req.tenantId))), jobId };
  }

  async createApiKey(req: CreateApiKeyRequest, ctx: HandlerContext) {
    requireAdmin(ctx);
    const scope = scopeForAdmin(req.tenantId);
    if ((await this.tenant(scope)).status === "deleted") throw new FailedPreconditionError("the tenant is deleted");
    if ((await this.deps.apiKeys.countActive(scope, this.deps.clock.nowMs())) >= MAX_ACTIVE_API_KEYS) {
      throw new QuotaExceededError(`a tenant may hold at most ${MAX_ACTIVE_API_KEYS} active API keys; revoke one first`);
    }
    const { record, secret } = await this.newKey(scope, req.name);
    this.deps.logger.info({ tenantId: scope.tenantId, apiKeyId: record.id }, "API key created");
    await this.deps.events.apiKeyCreated(scope.tenantId, record.id, ctx.values.get(principalKey));
    return { apiKey: apiKeyToProto(record), secret };
  }

  async listApiKeys(req: ListApiKeysRequest, ctx: HandlerContext) {
    requireAdmin(ctx);
    const scope = scopeForAdmin(req.tenantId);
    await this.tenant(scope);
    const binding = { tenantId: scope.tenantId, query: `api-keys;revoked=${req.includeRevoked}` };
    const beforeId = this.deps.pager.after(binding, req.pageToken);
    const nowMs = this.deps.clock.nowMs();
    const { rows, nextPageToken } = await this.deps.pager.page(
      binding,
      req.pageSize,
      (limit) => this.deps.apiKeys.list(scope, { includeRevoked: req.includeRevoked, nowMs, beforeId, limit }),
      (k) => k.id,
    );
    return { apiKeys: rows.map(apiKeyToProto), nextPageToken };
  }

  async revokeApiKey(req: RevokeApiKeyRequest, ctx: HandlerContext) {
    requireAdmin(ctx);
    const result = await this.deps.apiKeys.revoke(req.apiKeyId, this.deps.clock.nowMs(), "earliest");
    if (!result) throw new NotFoundError("API key");
    if (result.changed) this.deps.logger.info({ tenantId: result.record.tenantId, apiKeyId: req.apiKeyId }, "API key revoked");
    await this.deps.events.apiKeyRevoked(result.record.tenantId, result.record.id, result.record.revokeTimeMs ?? this.deps.clock.nowMs(), ctx.values.get(principalKey));
    return { apiKey: apiKeyToProto(result.record) };
  }

  async rotateApiKey(req: RotateApiKeyRequest, ctx: HandlerContext) {
    requireAdmin(ctx);
    const graceMs = req.gracePeriod ? Number(req.gracePeriod.seconds) * 1000 + Math.floor(req.gracePeriod.nanos / 1e6) : 0;
    const result = await this.deps.apiKeys.revoke(req.apiKeyId, this.deps.clock.nowMs() + graceMs, "if-unrevoked");
    if (!result) throw new NotFoundError("API key");
    if (!result.changed) throw new FailedPreconditionError("the API key is already revoked");
    const previous = result.record;
    const { record, secret } = await this.newKey(scopeForAdmin(previous.tenantId), previous.name);
    this.deps.logger.info({ tenantId: previous.tenantId, apiKeyId: record.id, previousApiKeyId: previous.id }, "API key rotated");
    await this.deps.events.apiKeyRotated(previous.tenantId, record.id, previous.id, previous.revokeTimeMs ?? this.deps.clock.nowMs(), ctx.values.get(principalKey));
    return { apiKey: apiKeyToProto(record), secret, previousApiKey: apiKeyToProto(previous) };
  }

  private async tenant(scope: TenantScope): Promise<TenantRecord> {
    const tenant = await this.deps.tenants.get(scope);
    if (!tenant) throw new NotFoundError("tenant");
    return tenant;
  }

  private async setStatus(scope: TenantScope, status: TenantState): Promise<TenantRecord> {
    const current = await this.tenant(scope);
    if (current.status === status) return current;
    if (current.status === "deleted") throw new FailedPreconditionError("the tenant is deleted: it cannot be suspended or resumed");
    const updated = await this.deps.tenants.update(scope, { status }, this.deps.clock.nowMs());
    if (!updated) throw new NotFoundError("tenant");
    return updated;
  }

  private async newKey(scope: TenantScope, name: string): Promise<{ record: ApiKeyRecord; secret: string }> {
    const id = newId();
    const { secret, prefix } = newApiKeySecret(id);
    const record: ApiKeyRecord = {
      id,
      tenantId: scope.tenantId,
      name,
      prefix,
      secretHash: hashCredential(this.deps.apiKeyPepper, secret),
      createTimeMs: this.deps.clock.nowMs(),
      lastUsedTimeMs: 0,
    };
    await this.deps.apiKeys.create(scope, record);
    return { record, secret };
  }
}

/**
 * Checks an UpdateTenant mask beyond what protovalidate already did (only "name", "settings" and
 * "settings.*" get this far) and returns the named settings fields (proto names).
 */
function checkMask(paths: string[]): string[] {
  const bad = (description: string) => new InvalidArgumentError("update_mask is not valid", [{ field: "update_mask", description }]);
  if (paths.length === 0) throw bad("name at least one field to update");
  if (new Set(paths).size !== paths.length) throw bad("paths must be unique");
  const known = new Set(TenantSettingsSchema.fields.map((f) => f.name));
  const fields: string[] = [];
  for (const p of paths) {
    if (!p.startsWith("settings.")) continue;
    const field = p.slice("settings.".length);
    if (!known.has(field)) throw bad(`${p} is not a field of TenantSettings`);
    fields.push(field);
  }
  if (fields.length > 0 && paths.includes("settings")) throw bad("give either settings or settings.<field> paths, not both");
  return fields;
}

/** `current` with the named fields taken from `given` (unset in `given` means the default). */
function mergeSettings(current: TenantSettings, given: TenantSettings | undefined, fields: string[]): TenantSettings {
  const source = given ?? create(TenantSettingsSchema);
  const next = create(TenantSettingsSchema, current);
  for (const name of fields) {
    const field = TenantSettingsSchema.fields.find((f) => f.name === name)!;
    (next as unknown as Record<string, unknown>)[field.localName] = (source as unknown as Record<string, unknown>)[field.localName];
  }
  return next;
}
