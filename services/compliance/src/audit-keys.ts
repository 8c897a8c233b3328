import { createCipheriv, createDecipheriv, createPrivateKey, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { calculateJwkThumbprint, type JWK } from "jose";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import { AuditPublicKeySchema, type AuditCheckpoint, type AuditPublicKey } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { signCheckpoint } from "./domain/audit-chain.js";
import type { AuditKeyRecord, AuditStore } from "./ports/audit-store.js";

/** The key-encryption key of checkpoint signing keys, derived from the service-secret root (HKDF-SHA256). */
export function auditKeyKek(serviceSecret: string): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(serviceSecret, "utf8"), "caas-compliance-v1", "audit-signing-key-kek", 32));
}

/**
 * The Ed25519 keys that sign audit checkpoints, shared by every compliance instance through the
 * store: the newest key this instance can decrypt signs; when there is none, one is made. Private
 * keys are stored sealed (AES-256-GCM under the key-encryption key, the key id as associated
 * data) and are decrypted only in memory. Every key ever made stays published, since old
 * checkpoints stay signed by it.
 */
export class AuditKeyManager {
  private current: { keyId: string; key: KeyObject } | undefined;
  private busy: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: { store: AuditStore; kek: Buffer; clock: Clock; logger: Logger }) {}

  /** Signs a checkpoint (its key_id set to the signing key). */
  async sign(checkpoint: AuditCheckpoint): Promise<AuditCheckpoint> {
    const { keyId, key } = await this.signer();
    const named = { ...checkpoint, keyId };
    return { ...named, signature: signCheckpoint(named, key) };
  }

  /** Every public key, oldest first. */
  async publicKeys(): Promise<AuditPublicKey[]> {
    const keys = await this.opts.store.listKeys();
    return keys.map((k) => create(AuditPublicKeySchema, { keyId: k.keyId, algorithm: "Ed25519", publicKey: k.publicKey, createTime: timestampFromMs(k.createTimeMs) }));
  }

  private signer(): Promise<{ keyId: string; key: KeyObject }> {
    if (this.current) return Promise.resolve(this.current);
    const run = this.busy.then(async () => {
      if (this.current) return this.current;
      this.current = (await this.newestUsable()) ?? (await this.create(), await this.newestUsable());
      if (!this.current) throw new Error("no audit signing key could be made");
      return this.current;
    });
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async newestUsable(): Promise<{ keyId: string; key: KeyObject } | undefined> {
    const keys = await this.opts.store.listKeys();
    for (const record of keys.reverse()) {
      try {
        return { keyId: record.keyId, key: createPrivateKey({ key: this.open(record), format: "der", type: "pkcs8" }) };
      } catch {
        this.opts.logger.warn({ keyId: record.keyId }, "cannot decrypt an audit signing key with this secret; it will not sign");
      }
    }
    return undefined;
  }

  private async create(): Promise<void> {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const jwk = publicKey.export({ format: "jwk" }) as JWK;
    const keyId = await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }, "sha256");
    const der = privateKey.export({ format: "der", type: "pkcs8" });
    const record: AuditKeyRecord = {
      keyId,
      publicKey: new Uint8Array(Buffer.from(jwk.x!, "base64url")),
      sealedPrivateKey: this.seal(keyId, der),
      createTimeMs: this.opts.clock.nowMs(),
    };
    der.fill(0);
    await this.opts.store.insertKey(record);
    this.opts.logger.info({ keyId }, "audit signing key created");
  }

  private seal(keyId: string, plain: Buffer): Uint8Array {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.opts.kek, iv);
    cipher.setAAD(Buffer.from(keyId, "utf8"));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return new Uint8Array(Buffer.concat([iv, cipher.getAuthTag(), body]));
  }

  private open(record: AuditKeyRecord): Buffer {
    const sealed = Buffer.from(record.sealedPrivateKey);
    const decipher = createDecipheriv("aes-256-gcm", this.opts.kek, sealed.subarray(0, 12));
    decipher.setAAD(Buffer.from(record.keyId, "utf8"));
    decipher.setAuthTag(sealed.subarray(12, 28));
    return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
  }
}
