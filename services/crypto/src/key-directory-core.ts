import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { DeviceSchema, KyberPreKeySchema, type DeviceChangeKind, PreKeyBundleSchema, SignedPreKeySchema, type Device, type PreKeyBundle } from "@caas/gen/caas/crypto/v1/device_keys_pb.js";
import type { HandlerContext } from "@connectrpc/connect";
import { PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { principalKey } from "@caas/shared/context";
import { scopeFromVerifiedClaims, type TenantScope } from "@caas/shared/tenant-scope";
import type { Clock } from "@caas/shared/clock";
import type { DirectorySigner } from "./domain/directory-signer.js";
import type { DeviceHistoryStore } from "./ports/device-history-store.js";
import type { DeviceRecord, KeyStore, OneTimeKey, SignedKey } from "./ports/key-store.js";

/** Default one-time prekey supply below which the owner is told (Signal's clients refill near this). */
export const DEFAULT_LOW_WATER_MARK = 10;
/** Default time a replaced signed prekey is kept: 30 days. */
export const DEFAULT_SIGNED_PREKEY_GRACE_MS = 30 * 24 * 3600 * 1000;

/** Tells a user's connections that one of its devices runs low on one-time prekeys (best effort). */
export type SupplyLowNotifier = (scope: TenantScope, userId: string, deviceId: number, remaining: number, threshold: number) => Promise<void>;

/** Tells the users who share a conversation with `userId` (and the user's own devices) that its device list changed (best effort). */
export type DeviceListNotifier = (scope: TenantScope, userId: string, deviceId: number, kind: DeviceChangeKind, changeSeq: number) => Promise<void>;

/** The ports and settings of the key directory. */
export interface KeyDirectoryDeps {
  keys: KeyStore;
  history: DeviceHistoryStore;
  signer: DirectorySigner;
  clock: Clock;
  notifyLow: SupplyLowNotifier;
  notifyChanged: DeviceListNotifier;
  lowWaterMark: number;
  signedPreKeyGraceMs: number;
}

/** The caller of a KeyDirectoryService RPC: a user access token only. */
export function keyCallerOf(ctx: HandlerContext): { scope: TenantScope; userId: string } {
  const p = ctx.values.get(principalKey);
  if (p.kind === "anonymous") throw new UnauthenticatedError("a user access token is required");
  if (p.kind !== "user") throw new PermissionDeniedError("KeyDirectoryService serves end users with a user access token");
  return { scope: scopeFromVerifiedClaims({ tenant: p.tenantId }), userId: p.userId };
}

const signedView = (k: SignedKey) => create(SignedPreKeySchema, { keyId: k.keyId, publicKey: k.publicKey, signature: k.signature });

/** A device as the API shows it; `count` only for the owner. */
export function deviceView(d: DeviceRecord, count: number | undefined, nowMs: number): Device {
  const previous = d.previousSignedPreKey && d.previousSignedPreKey.expireTimeMs > nowMs ? d.previousSignedPreKey : undefined;
  return create(DeviceSchema, {
    userId: d.userId,
    deviceId: d.deviceId,
    registrationId: d.registrationId,
    identityKey: d.identityKey,
    signedPrekey: signedView(d.signedPreKey),
    ...(previous ? { previousSignedPrekey: signedView(previous), previousSignedPrekeyExpireTime: timestampFromMs(previous.expireTimeMs) } : {}),
    kyberPrekey: create(KyberPreKeySchema, { keyId: d.kyberPreKey.keyId, publicKey: d.kyberPreKey.publicKey, signature: d.kyberPreKey.signature }),
    oneTimePrekeyCount: count ?? 0,
    createTime: timestampFromMs(d.createTimeMs),
    updateTime: timestampFromMs(d.updateTimeMs),
  });
}

/** The bundle of one device with the one-time prekey claimed for it (if any). */
export function bundleView(d: DeviceRecord, oneTime: OneTimeKey | undefined): PreKeyBundle {
  return create(PreKeyBundleSchema, {
    userId: d.userId,
    deviceId: d.deviceId,
    registrationId: d.registrationId,
    identityKey: d.identityKey,
    signedPrekey: signedView(d.signedPreKey),
    ...(oneTime ? { oneTimePrekey: { keyId: oneTime.keyId, publicKey: oneTime.publicKey } } : {}),
    kyberPrekey: create(KyberPreKeySchema, { keyId: d.kyberPreKey.keyId, publicKey: d.kyberPreKey.publicKey, signature: d.kyberPreKey.signature }),
  });
}
