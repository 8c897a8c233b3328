import type { TenantScope } from "@caas/shared/tenant-scope";

/** A Curve25519 or Kyber prekey with the identity key's XEdDSA signature over `publicKey`. */
export interface SignedKey {
  keyId: number;
  publicKey: Uint8Array;
  signature: Uint8Array;
}

/** A one-time prekey (33 bytes), or an MLS KeyPackage (up to MAX_ONE_TIME_KEY_BYTES) in a registration's KeyPackage pool. */
export interface OneTimeKey {
  keyId: number;
  publicKey: Uint8Array;
}

/** Largest one-time key a store keeps: an MLS KeyPackage. */
export const MAX_ONE_TIME_KEY_BYTES = 16_384;

/**
 * The pool of MLS KeyPackages of a registration: handed out once each, exactly like its one-time
 * prekeys, so the one-time key operations serve both (a generation of its own, never a real one:
 * those are UUIDs). Removing the device drops every pool of it.
 */
export function keyPackagePool(ref: DeviceRef): DeviceRef {
  return { userId: ref.userId, deviceId: ref.deviceId, generation: `${ref.generation}~mls` };
}

/** One registered device, as stored. */
export interface DeviceRecord {
  userId: string;
  deviceId: number;
  registrationId: number;
  identityKey: Uint8Array;
  /**
   * A random id of this registration of the device id: one-time prekeys belong to a generation,
   * so keys of a removed registration are never handed out with a new one's identity key, even
   * if their clean-up was interrupted.
   */
  generation: string;
  signedPreKey: SignedKey;
  /** The replaced signed prekey, until `expireTimeMs`. */
  previousSignedPreKey?: SignedKey & { expireTimeMs: number };
  kyberPreKey: SignedKey;
  createTimeMs: number;
  updateTimeMs: number;
}

/** Largest one-time prekey batch a store accepts in one call. */
export const MAX_ONE_TIME_BATCH = 100;

/** Identifies one registration of one device. */
export interface DeviceRef {
  userId: string;
  deviceId: number;
  generation: string;
}

/**
 * Devices and their prekeys, per tenant. One-time prekeys are handed out at most once, across
 * every instance sharing the store. Bad arguments are programming errors (RangeError/TypeError).
 */
export interface KeyStore {
  /**
   * Registers a device with its first one-time prekeys. AlreadyExistsError (nothing stored)
   * when the device id is registered. The device is visible before its one-time prekeys on
   * stores without transactions; claims meanwhile fall back to the signed prekey.
   */
  createDevice(scope: TenantScope, device: DeviceRecord, oneTime: OneTimeKey[]): Promise<void>;
  /** One device, or undefined. */
  getDevice(scope: TenantScope, userId: string, deviceId: number): Promise<DeviceRecord | undefined>;
  /** A user's devices, ascending by device id. */
  listDevices(scope: TenantScope, userId: string): Promise<DeviceRecord[]>;
  /**
   * Makes `signedPreKey` (and `kyberPreKey` when given) current on the registration `ref`, the
   * replaced signed prekey kept until `previousExpireTimeMs`. Returns the updated device, or
   * undefined when that registration no longer exists.
   */
  replaceSignedPreKey(scope: TenantScope, ref: DeviceRef, keys: { signedPreKey: SignedKey; kyberPreKey?: SignedKey; nowMs: number; previousExpireTimeMs: number }): Promise<DeviceRecord | undefined>;
  /** Removes a device and its one-time prekeys and KeyPackages (every pool); returns the removed record, or undefined. */
  removeDevice(scope: TenantScope, userId: string, deviceId: number): Promise<DeviceRecord | undefined>;
  /**
   * Adds one-time prekeys (1..MAX_ONE_TIME_BATCH distinct ids) to a registration. AlreadyExistsError,
   * storing none, when any id was added to it before (still stored or already claimed).
   */
  addOneTimeKeys(scope: TenantScope, ref: DeviceRef, keys: OneTimeKey[]): Promise<void>;
  /**
   * Takes one one-time prekey of the registration (lowest id first) that no one took before, or
   * undefined when none is left. Atomic: concurrent claimers on any instance never get the same key.
   */
  claimOneTimeKey(scope: TenantScope, ref: DeviceRef): Promise<OneTimeKey | undefined>;
  /** One-time prekeys of the registration not yet claimed. */
  countOneTimeKeys(scope: TenantScope, ref: DeviceRef): Promise<number>;
  close(): Promise<void>;
}
