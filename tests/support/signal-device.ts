import {
  Direction,
  IdentityChange,
  IdentityKeyPair,
  IdentityKeyStore,
  KEMKeyPair,
  KEMPublicKey,
  KyberPreKeyRecord,
  KyberPreKeyStore,
  PreKeyBundle,
  PreKeyRecord,
  PreKeySignalMessage,
  PreKeyStore,
  PrivateKey,
  processPreKeyBundle,
  ProtocolAddress,
  PublicKey,
  SessionRecord,
  SessionStore,
  SignalMessage,
  signalDecrypt,
  signalDecryptPreKey,
  signalEncrypt,
  SignedPreKeyRecord,
  SignedPreKeyStore,
  CiphertextMessageType,
} from "@signalapp/libsignal-client";
import type { PreKeyBundle as WireBundle } from "@caas/gen/caas/crypto/v1/device_keys_pb.js";

/*
 * A Signal-protocol client device for tests, on @signalapp/libsignal-client with in-memory
 * stores: it makes its keys, turns directory bundles into sessions, and encrypts and decrypts.
 */

const u8 = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

class MemorySessions extends SessionStore {
  readonly map = new Map<string, SessionRecord>();
  async saveSession(a: ProtocolAddress, r: SessionRecord) {
    this.map.set(a.toString(), r);
  }
  async getSession(a: ProtocolAddress) {
    return this.map.get(a.toString()) ?? null;
  }
  async getExistingSessions(list: ProtocolAddress[]) {
    return list.map((a) => this.map.get(a.toString())).filter((r): r is SessionRecord => r !== undefined);
  }
}

class MemoryIdentities extends IdentityKeyStore {
  private readonly known = new Map<string, PublicKey>();
  constructor(
    private readonly pair: IdentityKeyPair,
    private readonly registrationId: number,
  ) {
    super();
  }
  async getIdentityKey() {
    return this.pair.privateKey;
  }
  async getLocalRegistrationId() {
    return this.registrationId;
  }
  async saveIdentity(a: ProtocolAddress, key: PublicKey) {
    const old = this.known.get(a.toString());
    this.known.set(a.toString(), key);
    return old && !old.equals(key) ? IdentityChange.ReplacedExisting : IdentityChange.NewOrUnchanged;
  }
  async isTrustedIdentity(a: ProtocolAddress, key: PublicKey, _d: Direction) {
    const old = this.known.get(a.toString());
    return !old || old.equals(key);
  }
  async getIdentity(a: ProtocolAddress) {
    return this.known.get(a.toString()) ?? null;
  }
}

class MemoryPreKeys extends PreKeyStore {
  readonly map = new Map<number, PreKeyRecord>();
  async savePreKey(id: number, r: PreKeyRecord) {
    this.map.set(id, r);
  }
  async getPreKey(id: number) {
    const r = this.map.get(id);
    if (!r) throw new Error(`no prekey ${id}`);
    return r;
  }
  async removePreKey(id: number) {
    this.map.delete(id);
  }
}

class MemorySignedPreKeys extends SignedPreKeyStore {
  readonly map = new Map<number, SignedPreKeyRecord>();
  async saveSignedPreKey(id: number, r: SignedPreKeyRecord) {
    this.map.set(id, r);
  }
  async getSignedPreKey(id: number) {
    const r = this.map.get(id);
    if (!r) throw new Error(`no signed prekey ${id}`);
    return r;
  }
}

class MemoryKyberPreKeys extends KyberPreKeyStore {
  readonly map = new Map<number, KyberPreKeyRecord>();
  async saveKyberPreKey(id: number, r: KyberPreKeyRecord) {
    this.map.set(id, r);
  }
  async getKyberPreKey(id: number) {
    const r = this.map.get(id);
    if (!r) throw new Error(`no kyber prekey ${id}`);
    return r;
  }
  async markKyberPreKeyUsed() {}
}

/** An encrypted message as it travels: libsignal's type and serialized bytes. */
export interface Envelope {
  type: number;
  body: string;
}

/** One libsignal device of a user. */
export class SignalDevice {
  readonly identity = IdentityKeyPair.generate();
  readonly registrationId = 1 + Math.floor(Math.random() * 16000);
  readonly address: ProtocolAddress;
  private readonly sessions = new MemorySessions();
  private readonly identities: MemoryIdentities;
  readonly preKeys = new MemoryPreKeys();
  private readonly signedPreKeys = new MemorySignedPreKeys();
  private readonly kyberPreKeys = new MemoryKyberPreKeys();
  private nextPreKeyId = 1;

  constructor(
    readonly userId: string,
    readonly deviceId: number,
  ) {
    this.address = ProtocolAddress.new(userId, deviceId);
    this.identities = new MemoryIdentities(this.identity, this.registrationId);
  }

  /** A new signed prekey (kept in the device's store), as the directory takes it. */
  signedPreKey(keyId: number) {
    const priv = PrivateKey.generate();
    const pub = priv.getPublicKey().serialize();
    const signature = this.identity.privateKey.sign(pub);
    void this.signedPreKeys.saveSignedPreKey(keyId, SignedPreKeyRecord.new(keyId, Date.now(), priv.getPublicKey(), priv, signature));
    return { keyId, publicKey: pub, signature };
  }

  /** A new signed Kyber prekey (kept in the device's store), as the directory takes it. */
  kyberPreKey(keyId: number) {
    const pair = KEMKeyPair.generate();
    const pub = pair.getPublicKey().serialize();
    const signature = this.identity.privateKey.sign(pub);
    void this.kyberPreKeys.saveKyberPreKey(keyId, KyberPreKeyRecord.new(keyId, Date.now(), pair, signature));
    return { keyId, publicKey: pub, signature };
  }

  /** `n` new one-time prekeys (kept in the device's store), as the directory takes them. */
  oneTimePreKeys(n: number) {
    return Array.from({ length: n }, () => {
      const keyId = this.nextPreKeyId++;
      const priv = PrivateKey.generate();
      void this.preKeys.savePreKey(keyId, PreKeyRecord.new(keyId, priv.getPublicKey(), priv));
      return { keyId, publicKey: priv.getPublicKey().serialize() };
    });
  }

  /** A PublishDeviceKeys request for this device with `oneTime` one-time prekeys. */
  publishRequest(oneTime: number) {
    return {
      deviceId: this.deviceId,
      registrationId: this.registrationId,
      identityKey: this.identity.publicKey.serialize(),
      signedPrekey: this.signedPreKey(1),
      kyberPrekey: this.kyberPreKey(1),
      oneTimePrekeys: this.oneTimePreKeys(oneTime),
    };
  }

  /** Starts a session with the device a directory bundle describes (libsignal verifies its signatures). */
  async startSession(b: WireBundle): Promise<void> {
    const bundle = PreKeyBundle.new(
      b.registrationId,
      b.deviceId,
      b.oneTimePrekey ? b.oneTimePrekey.keyId : null,
      b.oneTimePrekey ? PublicKey.deserialize(u8(b.oneTimePrekey.publicKey)) : null,
      b.signedPrekey!.keyId,
      PublicKey.deserialize(u8(b.signedPrekey!.publicKey)),
      u8(b.signedPrekey!.signature),
      PublicKey.deserialize(u8(b.identityKey)),
      b.kyberPrekey!.keyId,
      KEMPublicKey.deserialize(u8(b.kyberPrekey!.publicKey)),
      u8(b.kyberPrekey!.signature),
    );
    await processPreKeyBundle(bundle, ProtocolAddress.new(b.userId, b.deviceId), this.address, this.sessions, this.identities);
  }

  /** Encrypts for a device this device has a session with. */
  async encrypt(userId: string, deviceId: number, text: string): Promise<Envelope> {
    const m = await signalEncrypt(u8(new TextEncoder().encode(text)), ProtocolAddress.new(userId, deviceId), this.address, this.sessions, this.identities);
    return { type: m.type(), body: Buffer.from(m.serialize()).toString("base64") };
  }

  /** Decrypts an envelope from `userId`'s device `deviceId`; also returns the one-time prekey a PreKey message used. */
  async decrypt(userId: string, deviceId: number, env: Envelope): Promise<{ text: string; preKeyId: number | null }> {
    const from = ProtocolAddress.new(userId, deviceId);
    const bytes = u8(Buffer.from(env.body, "base64"));
    // The type travels as a JSON number: read it as libsignal's enum.
    if ((env.type as CiphertextMessageType) === CiphertextMessageType.PreKey) {
      const m = PreKeySignalMessage.deserialize(bytes);
      const plain = await signalDecryptPreKey(m, from, this.address, this.sessions, this.identities, this.preKeys, this.signedPreKeys, this.kyberPreKeys);
      return { text: new TextDecoder().decode(plain), preKeyId: m.preKeyId() };
    }
    const plain = await signalDecrypt(SignalMessage.deserialize(bytes), from, this.address, this.sessions, this.identities);
    return { text: new TextDecoder().decode(plain), preKeyId: null };
  }
}
