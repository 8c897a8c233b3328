import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { DeviceChangeKind, DirectorySigningKeySchema, SignedDeviceListChangeSchema } from "@caas/gen/caas/crypto/v1/device_keys_pb.js";
import { ClaimedKeyPackageSchema, ClaimKeyPackagesResponseSchema } from "@caas/gen/caas/crypto/v1/key_directory_service_pb.js";
import type * as pb from "@caas/gen/caas/crypto/v1/key_directory_service_pb.js";
import { AlreadyExistsError, NotFoundError } from "@caas/shared/errors";
import { newId } from "@caas/shared/ids";
import type { TenantScope } from "@caas/shared/tenant-scope";
import type { ChangeFacts } from "./domain/directory-signer.js";
import { checkKeyPackages, checkOneTimePreKeys, checkSignedPreKey, curveKey, invalid } from "./domain/key-checks.js";
import { safetyNumber } from "./domain/safety-number.js";
import { bundleView, deviceView, keyCallerOf, type KeyDirectoryDeps } from "./key-directory-core.js";
import { keyPackagePool, MAX_ONE_TIME_BATCH, type DeviceRecord, type OneTimeKey } from "./ports/key-store.js";

const DEFAULT_HISTORY_PAGE = 100;
/** At most one "supply exhausted" notice per device per this long, per instance. */
const EMPTY_NOTICE_INTERVAL_MS = 60_000;

/**
 * caas.crypto.v1.KeyDirectoryService: the end-to-end encryption key directory. Tenant and caller
 * come from the access token; a caller publishes, rotates, refills and removes only its own
 * devices, and reads any user's public keys in its tenant. Other tenants' users have no devices
 * here (NOT_FOUND).
 */
export class KeyDirectoryServiceImpl implements ServiceImpl<typeof pb.KeyDirectoryService> {
  private readonly lastEmptyNotice = new Map<string, number>();

  constructor(private readonly deps: KeyDirectoryDeps) {}

  async publishDeviceKeys(req: pb.PublishDeviceKeysRequest, ctx: HandlerContext): Promise<pb.PublishDeviceKeysResponse> {
    const { scope, userId } = keyCallerOf(ctx);
    const identity = curveKey("identity_key", req.identityKey);
    if (!req.signedPrekey) throw invalid("signed_prekey", "is required");
    if (!req.kyberPrekey) throw invalid("kyber_prekey", "is required");
    const signed = checkSignedPreKey("signed_prekey", identity, req.signedPrekey, "curve");
    const kyber = checkSignedPreKey("kyber_prekey", identity, req.kyberPrekey, "kyber");
    const oneTime = checkOneTimePreKeys("one_time_prekeys", req.oneTimePrekeys, MAX_ONE_TIME_BATCH);
    const now = this.deps.clock.nowMs();
    const device: DeviceRecord = {
      userId,
      deviceId: req.deviceId,
      registrationId: req.registrationId,
      identityKey: new Uint8Array(req.identityKey),
      generation: newId(),
      signedPreKey: signed,
      kyberPreKey: kyber,
      createTimeMs: now,
      updateTimeMs: now,
    };
    await this.deps.keys.createDevice(scope, device, oneTime);
    await this.record(scope, device, DeviceChangeKind.ADDED, now);
    return { $typeName: "caas.crypto.v1.PublishDeviceKeysResponse", device: deviceView(device, oneTime.length, now) };
  }

  async replaceSignedPreKey(req: pb.ReplaceSignedPreKeyRequest, ctx: HandlerContext): Promise<pb.ReplaceSignedPreKeyResponse> {
    const { scope, userId } = keyCallerOf(ctx);
    const current = await this.ownDevice(scope, userId, req.deviceId);
    const identity = curveKey("identity_key", current.identityKey);
    if (!req.signedPrekey) throw invalid("signed_prekey", "is required");
    const signed = checkSignedPreKey("signed_prekey", identity, req.signedPrekey, "curve");
    const kyber = req.kyberPrekey ? checkSignedPreKey("kyber_prekey", identity, req.kyberPrekey, "kyber") : undefined;
    if (signed.keyId === current.signedPreKey.keyId) throw new AlreadyExistsError(`signed prekey ${signed.keyId} is the current one`);
    const now = this.deps.clock.nowMs();
    const updated = await this.deps.keys.replaceSignedPreKey(scope, current, {
      signedPreKey: signed,
      ...(kyber ? { kyberPreKey: kyber } : {}),
      nowMs: now,
      previousExpireTimeMs: now + this.deps.signedPreKeyGraceMs,
    });
    if (!updated) throw new NotFoundError(`device ${req.deviceId}`);
    await this.record(scope, updated, DeviceChangeKind.KEYS_ROTATED, now);
    const count = await this.deps.keys.countOneTimeKeys(scope, updated);
    return { $typeName: "caas.crypto.v1.ReplaceSignedPreKeyResponse", device: deviceView(updated, count, now) };
  }

  async uploadOneTimePreKeys(req: pb.UploadOneTimePreKeysRequest, ctx: HandlerContext): Promise<pb.UploadOneTimePreKeysResponse> {
    const { scope, userId } = keyCallerOf(ctx);
    if (req.oneTimePrekeys.length === 0) throw invalid("one_time_prekeys", "must hold at least one key");
    const keys = checkOneTimePreKeys("one_time_prekeys", req.oneTimePrekeys, MAX_ONE_TIME_BATCH);
    const device = await this.ownDevice(scope, userId, req.deviceId);
    await this.deps.keys.addOneTimeKeys(scope, device, keys);
    return { $typeName: "caas.crypto.v1.UploadOneTimePreKeysResponse", oneTimePrekeyCount: await this.deps.keys.countOneTimeKeys(scope, device) };
  }

  async claimPreKeyBundles(req: pb.ClaimPreKeyBundlesRequest, ctx: HandlerContext): Promise<pb.ClaimPreKeyBundlesResponse> {
    const { scope } = keyCallerOf(ctx);
    const bundles = [];
    for (const d of await this.targets(scope, req.userId, req.deviceIds)) {
      const oneTime = await this.deps.keys.claimOneTimeKey(scope, d);
      bundles.push(bundleView(d, oneTime));
      await this.checkSupply(scope, d, oneTime);
    }
    return { $typeName: "caas.crypto.v1.ClaimPreKeyBundlesResponse", bundles };
  }

  async getPreKeyCount(req: pb.GetPreKeyCountRequest, ctx: HandlerContext): Promise<pb.GetPreKeyCountResponse> {
    const { scope, userId } = keyCallerOf(ctx);
    const device = await this.ownDevice(scope, userId, req.deviceId);
    const [oneTime, packages] = await Promise.all([this.deps.keys.countOneTimeKeys(scope, device), this.deps.keys.countOneTimeKeys(scope, keyPackagePool(device))]);
    return { $typeName: "caas.crypto.v1.GetPreKeyCountResponse", oneTimePrekeyCount: oneTime, keyPackageCount: packages };
  }

  async uploadKeyPackages(req: pb.UploadKeyPackagesRequest, ctx: HandlerContext): Promise<pb.UploadKeyPackagesResponse> {
    const { scope, userId } = keyCallerOf(ctx);
    const packages = checkKeyPackages("key_packages", req.keyPackages, MAX_ONE_TIME_BATCH);
    const pool = keyPackagePool(await this.ownDevice(scope, userId, req.deviceId));
    await this.deps.keys.addOneTimeKeys(scope, pool, packages);
    return { $typeName: "caas.crypto.v1.UploadKeyPackagesResponse", keyPackageCount: await this.deps.keys.countOneTimeKeys(scope, pool) };
  }

  async claimKeyPackages(req: pb.ClaimKeyPackagesRequest, ctx: HandlerContext): Promise<pb.ClaimKeyPackagesResponse> {
    const { scope } = keyCallerOf(ctx);
    const keyPackages = [];
    for (const d of await this.targets(scope, req.userId, req.deviceIds)) {
      const claimed = await this.deps.keys.claimOneTimeKey(scope, keyPackagePool(d));
      if (claimed) keyPackages.push(create(ClaimedKeyPackageSchema, { userId: d.userId, deviceId: d.deviceId, keyPackage: { keyPackageId: claimed.keyId, keyPackage: claimed.publicKey } }));
    }
    return create(ClaimKeyPackagesResponseSchema, { keyPackages });
  }

  async listDevices(req: pb.ListDevicesRequest, ctx: HandlerContext): Promise<pb.ListDevicesResponse> {
    const { scope, userId } = keyCallerOf(ctx);
    const now = this.deps.clock.nowMs();
    const list = await this.deps.keys.listDevices(scope, req.userId);
    const own = req.userId === userId;
    const devices = [];
    for (const d of list) devices.push(deviceView(d, own ? await this.deps.keys.countOneTimeKeys(scope, d) : undefined, now));
    return { $typeName: "caas.crypto.v1.ListDevicesResponse", devices };
  }

  async removeDevice(req: pb.RemoveDeviceRequest, ctx: HandlerContext): Promise<pb.RemoveDeviceResponse> {
    const { scope, userId } = keyCallerOf(ctx);
    const removed = await this.deps.keys.removeDevice(scope, userId, req.deviceId);
    if (!removed) throw new NotFoundError(`device ${req.deviceId}`);
    await this.record(scope, removed, DeviceChangeKind.REMOVED, this.deps.clock.nowMs());
    return { $typeName: "caas.crypto.v1.RemoveDeviceResponse" };
  }

  async getDeviceListHistory(req: pb.GetDeviceListHistoryRequest, ctx: HandlerContext): Promise<pb.GetDeviceListHistoryResponse> {
    const { scope } = keyCallerOf(ctx);
    let after = 0;
    if (req.pageToken !== "") {
      if (!/^[0-9]{1,15}$/.test(req.pageToken)) throw invalid("page_token", "is not a token this RPC returned");
      after = Number(req.pageToken);
    }
    const size = req.pageSize === 0 ? DEFAULT_HISTORY_PAGE : req.pageSize;
    const entries = await this.deps.history.list(scope, req.userId, after, size + 1);
    const page = entries.slice(0, size);
    return {
      $typeName: "caas.crypto.v1.GetDeviceListHistoryResponse",
      changes: page.map((e) => create(SignedDeviceListChangeSchema, { change: e.change, signature: e.signature, keyId: e.keyId })),
      nextPageToken: entries.length > size ? String(page[page.length - 1]!.seq) : "",
    };
  }

  async getDirectorySigningKey(_req: pb.GetDirectorySigningKeyRequest, ctx: HandlerContext): Promise<pb.GetDirectorySigningKeyResponse> {
    keyCallerOf(ctx);
    const { keyId, publicKey } = this.deps.signer.key;
    return { $typeName: "caas.crypto.v1.GetDirectorySigningKeyResponse", key: create(DirectorySigningKeySchema, { keyId, publicKey }) };
  }

  async getSafetyNumber(req: pb.GetSafetyNumberRequest, ctx: HandlerContext): Promise<pb.GetSafetyNumberResponse> {
    const { scope, userId } = keyCallerOf(ctx);
    const local = await this.ownDevice(scope, userId, req.deviceId);
    const remote = await this.deps.keys.getDevice(scope, req.remoteUserId, req.remoteDeviceId);
    if (!remote) throw new NotFoundError(`device ${req.remoteDeviceId} of user ${req.remoteUserId}`);
    return { $typeName: "caas.crypto.v1.GetSafetyNumberResponse", safetyNumber: safetyNumber(local, remote) };
  }

  private async ownDevice(scope: TenantScope, userId: string, deviceId: number): Promise<DeviceRecord> {
    const d = await this.deps.keys.getDevice(scope, userId, deviceId);
    if (!d) throw new NotFoundError(`device ${deviceId}`);
    return d;
  }

  /** The devices a claim names (every device of the user when none), ascending; NOT_FOUND for a user without devices or an unknown device. */
  private async targets(scope: TenantScope, userId: string, deviceIds: readonly number[]): Promise<DeviceRecord[]> {
    const all = await this.deps.keys.listDevices(scope, userId);
    if (all.length === 0) throw new NotFoundError(`devices of user ${userId}`);
    if (deviceIds.length === 0) return all;
    const byId = new Map(all.map((d) => [d.deviceId, d]));
    return [...deviceIds]
      .sort((a, b) => a - b)
      .map((id) => {
        const d = byId.get(id);
        if (!d) throw new NotFoundError(`device ${id} of user ${userId}`);
        return d;
      });
  }

  /** Appends a signed change to the user's device-list history, then tells those who share a conversation with the user. */
  private async record(scope: TenantScope, d: DeviceRecord, kind: DeviceChangeKind, timeMs: number): Promise<void> {
    const deviceIds = (await this.deps.keys.listDevices(scope, d.userId)).map((x) => x.deviceId);
    const removed = kind === DeviceChangeKind.REMOVED;
    const facts: ChangeFacts = {
      tenantId: scope.tenantId,
      userId: d.userId,
      kind,
      deviceId: d.deviceId,
      identityKey: d.identityKey,
      signedPreKeyId: removed ? 0 : d.signedPreKey.keyId,
      kyberPreKeyId: removed ? 0 : d.kyberPreKey.keyId,
      timeMs,
      deviceIds,
    };
    const entry = await this.deps.history.append(scope, d.userId, (seq, previous) => this.deps.signer.entry(facts, seq, previous));
    await this.deps.notifyChanged(scope, d.userId, d.deviceId, kind, entry.seq);
  }

  /**
   * Tells the owner when a claim took the supply below the low-water mark (once, at the
   * crossing), when it took the last key, and (at most once a minute) when claims find none.
   */
  private async checkSupply(scope: TenantScope, d: DeviceRecord, claimed: OneTimeKey | undefined): Promise<void> {
    const threshold = this.deps.lowWaterMark;
    if (!claimed) {
      const k = `${scope.tenantId}|${d.userId}|${d.deviceId}`;
      const now = this.deps.clock.nowMs();
      if (now - (this.lastEmptyNotice.get(k) ?? -Infinity) < EMPTY_NOTICE_INTERVAL_MS) return;
      this.lastEmptyNotice.set(k, now);
      if (this.lastEmptyNotice.size > 10_000) this.lastEmptyNotice.delete(this.lastEmptyNotice.keys().next().value!);
      await this.deps.notifyLow(scope, d.userId, d.deviceId, 0, threshold);
      return;
    }
    const remaining = await this.deps.keys.countOneTimeKeys(scope, d);
    if (remaining === threshold - 1 || remaining === 0) await this.deps.notifyLow(scope, d.userId, d.deviceId, remaining, threshold);
  }
}
