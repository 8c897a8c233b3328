import { createHash, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { DeviceListChangeSchema, type DeviceChangeKind } from "@caas/gen/caas/crypto/v1/device_keys_pb.js";
import type { HistoryEntry, StoredSigningKey } from "../ports/device-history-store.js";

/** The id of an Ed25519 public key: the first 16 hex digits of its SHA-256. */
export function signingKeyId(publicKey: Uint8Array): string {
  return createHash("sha256").update(publicKey).digest("hex").slice(0, 16);
}

/** A fresh Ed25519 key pair in the stored form (node:crypto; PKCS#8 DER and the raw public key). */
export function newSigningKey(): StoredSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const der = privateKey.export({ format: "der", type: "pkcs8" });
  // The raw key is the last 32 bytes of the SPKI DER encoding of an Ed25519 key.
  const raw = new Uint8Array(publicKey.export({ format: "der", type: "spki" }).subarray(-32));
  return { keyId: signingKeyId(raw), privateKeyDer: new Uint8Array(der), publicKey: raw };
}

/** What one device-list change says (the rest of DeviceListChange is filled in when appended). */
export interface ChangeFacts {
  tenantId: string;
  userId: string;
  kind: DeviceChangeKind;
  deviceId: number;
  identityKey: Uint8Array;
  signedPreKeyId: number;
  kyberPreKeyId: number;
  timeMs: number;
  deviceIds: number[];
}

const ZERO_HASH = new Uint8Array(32);

/**
 * Signs device-list changes with the directory's Ed25519 key: each change is serialized once,
 * linked to its predecessor by SHA-256, and the signature covers exactly the stored bytes.
 */
export class DirectorySigner {
  private readonly privateKey: KeyObject;

  constructor(readonly key: StoredSigningKey) {
    this.privateKey = createPrivateKey({ key: Buffer.from(key.privateKeyDer), format: "der", type: "pkcs8" });
  }

  /** The entry with sequence number `seq` following `previous`. */
  entry(facts: ChangeFacts, seq: number, previous: HistoryEntry | undefined): HistoryEntry {
    const change = toBinary(
      DeviceListChangeSchema,
      create(DeviceListChangeSchema, {
        tenantId: facts.tenantId,
        userId: facts.userId,
        seq: BigInt(seq),
        kind: facts.kind,
        deviceId: facts.deviceId,
        identityKey: facts.identityKey,
        signedPrekeyId: facts.signedPreKeyId,
        kyberPrekeyId: facts.kyberPreKeyId,
        changeTime: timestampFromMs(facts.timeMs),
        previousHash: previous ? new Uint8Array(createHash("sha256").update(previous.change).digest()) : ZERO_HASH,
        deviceIds: facts.deviceIds,
      }),
    );
    return { seq, change, signature: new Uint8Array(sign(null, change, this.privateKey)), keyId: this.key.keyId };
  }
}
