import { generateKeyPairSync } from "node:crypto";
import { calculateJwkThumbprint, importJWK, type CryptoKey, type JSONWebKeySet, type JWK } from "jose";
import { AlreadyExistsError } from "@caas/shared/errors";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import type { SigningKeyRecord, SigningKeyStore } from "../ports/signing-key-store.js";
import { openPrivateKey, sealPrivateKey } from "./keyring.js";

/** The algorithm of every signing key: EdDSA over Ed25519. */
export const SIGNING_ALG = "EdDSA";

/** The store, key-encryption key and timing of the signing keys. */
export interface SigningKeyManagerOptions {
  store: SigningKeyStore;
  /** Encrypts private keys at rest (Keyring.signingKeyKek). */
  kek: Buffer;
  clock: Clock;
  logger: Logger;
  /** How long a key signs before a successor is made. Default 24 h. */
  rotationPeriodMs?: number;
  /** A successor is published this long before it signs, so verifiers learn it first. Default 30 s. */
  publishLeadMs?: number;
  /** The longest life of a token this service signs. Default 5 min. */
  tokenLifetimeMs?: number;
  /** Clock disagreement verifiers tolerate. Default 30 s. */
  clockSkewMs?: number;
  /** How often the key list is re-read (other instances add keys). Default 10 s. */
  reloadIntervalMs?: number;
}

/** A key ready to sign. */
export interface Signer {
  kid: string;
  key: CryptoKey;
}

/**
 * Token signing keys (EdDSA/Ed25519, kid = RFC 7638 thumbprint), shared by every auth instance
 * through the store. The newest active key signs. Rotation: once the current key is
 * `rotationPeriodMs` old a successor is stored, published at once and used after
 * `publishLeadMs`; a replaced key stays published until every token it signed has expired
 * (successor's activation + token lifetime + skew), then it is deleted. Private keys are stored
 * encrypted and decrypted only in memory; they are never logged. A key this instance cannot
 * decrypt (another root key) is never used to sign; a fresh key replaces it.
 */
export class SigningKeyManager {
  private readonly rotationPeriodMs: number;
  private readonly publishLeadMs: number;
  private readonly retireAfterMs: number;
  private readonly reloadIntervalMs: number;
  private keys: SigningKeyRecord[] = [];
  private loadedAtMs = Number.NEGATIVE_INFINITY;
  private readonly privateKeys = new Map<string, CryptoKey | null>();
  private busy: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: SigningKeyManagerOptions) {
    this.rotationPeriodMs = opts.rotationPeriodMs ?? 24 * 3_600_000;
    this.publishLeadMs = opts.publishLeadMs ?? 30_000;
    this.retireAfterMs = (opts.tokenLifetimeMs ?? 300_000) + (opts.clockSkewMs ?? 30_000);
    this.reloadIntervalMs = opts.reloadIntervalMs ?? 10_000;
  }

  /** Loads the keys and makes sure one can sign. */
  async start(): Promise<void> {
    await this.signer();
  }

  /** The key to sign with now; rotates when due. Calls are serialized. */
  signer(): Promise<Signer> {
    return this.serial(async () => {
      const now = this.opts.clock.nowMs();
      await this.reloadIfStale(now);
      let current = await this.current(now);
      if (!current) {
        await this.create(now);
        current = (await this.current(now))!;
      } else if (current.record.activateTimeMs + this.rotationPeriodMs <= now && !this.keys.some((k) => k.activateTimeMs > now)) {
        await this.create(now + this.publishLeadMs);
      }
      await this.prune(now);
      return current.signer;
    });
  }

  /** Starts a rotation now: a successor is published and signs after the publish lead. Returns its kid. */
  rotate(): Promise<string> {
    return this.serial(async () => {
      const now = this.opts.clock.nowMs();
      await this.reloadIfStale(now);
      return (await this.create(now + this.publishLeadMs)).kid;
    });
  }

  /** The public keys verifiers need: pending, current, and replaced keys whose tokens may be unexpired. */
  async jwks(): Promise<JSONWebKeySet> {
    const now = this.opts.clock.nowMs();
    await this.serial(() => this.reloadIfStale(now));
    return {
      keys: this.keys.filter((k) => this.publishedUntil(k, now) > now).map((k) => ({ ...(JSON.parse(k.publicJwk) as JWK), kid: k.kid, alg: k.alg, use: "sig" })),
    };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async reloadIfStale(now: number): Promise<void> {
    if (now - this.loadedAtMs < this.reloadIntervalMs) return;
    this.keys = await this.opts.store.list();
    this.loadedAtMs = now;
  }

  /** When a key stops being published: never while no successor has activated. */
  private publishedUntil(key: SigningKeyRecord, now: number): number {
    const successor = this.keys.find((k) => k.activateTimeMs > key.activateTimeMs && k.activateTimeMs <= now);
    return successor ? successor.activateTimeMs + this.retireAfterMs : Number.POSITIVE_INFINITY;
  }

  /** The newest active key this instance can decrypt. */
  private async current(now: number): Promise<{ record: SigningKeyRecord; signer: Signer } | undefined> {
    const active = this.keys.filter((k) => k.activateTimeMs <= now).reverse();
    for (const record of active) {
      const key = await this.privateKey(record);
      if (key) return { record, signer: { kid: record.kid, key } };
    }
    return undefined;
  }

  private async privateKey(record: SigningKeyRecord): Promise<CryptoKey | null> {
    if (this.privateKeys.has(record.kid)) return this.privateKeys.get(record.kid)!;
    let key: CryptoKey | null = null;
    try {
      const jwk = JSON.parse(openPrivateKey(this.opts.kek, record.kid, record.encryptedPrivateKey).toString("utf8")) as JWK;
      key = (await importJWK({ ...jwk, alg: SIGNING_ALG }, SIGNING_ALG)) as CryptoKey;
    } catch {
      this.opts.logger.warn({ kid: record.kid }, "cannot decrypt a signing key with this root key; it will not sign");
    }
    this.privateKeys.set(record.kid, key);
    return key;
  }

  private async create(activateTimeMs: number): Promise<SigningKeyRecord> {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const publicJwk = publicKey.export({ format: "jwk" }) as JWK;
    const kid = await calculateJwkThumbprint(publicJwk, "sha256");
    const privateJwk = Buffer.from(JSON.stringify(privateKey.export({ format: "jwk" })), "utf8");
    const record: SigningKeyRecord = {
      kid,
      alg: SIGNING_ALG,
      publicJwk: JSON.stringify({ kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x }),
      encryptedPrivateKey: sealPrivateKey(this.opts.kek, kid, privateJwk),
      createTimeMs: this.opts.clock.nowMs(),
      activateTimeMs,
    };
    privateJwk.fill(0);
    try {
      await this.opts.store.insert(record);
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
    }
    this.keys = [...this.keys, record].sort((a, b) => a.activateTimeMs - b.activateTimeMs || (a.kid < b.kid ? -1 : 1));
    this.opts.logger.info({ kid, activateTime: new Date(activateTimeMs).toISOString() }, "signing key created");
    return record;
  }

  /** Deletes replaced keys whose tokens have all expired. */
  private async prune(now: number): Promise<void> {
    const expired = this.keys.filter((k) => this.publishedUntil(k, now) <= now).map((k) => k.kid);
    if (expired.length === 0) return;
    await this.opts.store.delete(expired);
    this.keys = this.keys.filter((k) => !expired.includes(k.kid));
    for (const kid of expired) this.privateKeys.delete(kid);
    this.opts.logger.info({ kids: expired }, "retired signing keys deleted");
  }
}

/** The kid of a public JWK as this service computes it (for tests and tools). */
export async function kidOf(publicJwk: JWK): Promise<string> {
  return calculateJwkThumbprint(publicJwk, "sha256");
}
