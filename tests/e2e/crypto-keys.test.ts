import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { create, fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Fingerprint } from "@signalapp/libsignal-client";
import { describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { DeviceChangeKind, DeviceListChangeSchema } from "@caas/gen/caas/crypto/v1/device_keys_pb.js";
import { KeyDirectoryService } from "@caas/gen/caas/crypto/v1/key_directory_service_pb.js";
import { DeviceEnvelopeSchema, type DeviceEnvelope } from "@caas/gen/caas/chat/v1/encrypted_pb.js";
import type { Message } from "@caas/gen/caas/chat/v1/message_pb.js";
import type { ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { SignalDevice, type Envelope } from "../support/signal-device.js";
import { bearer, tenantWithUsers } from "../support/tenants.js";
import { wsConnection } from "./realtime-clients.js";

const platform = inject("embedded");
const cluster = inject("cluster");

type Directory = Client<typeof KeyDirectoryService>;

/** The envelope an encrypted message holds for `userId`'s device `deviceId`, in libsignal's terms. */
function envelopeOf(message: Message | undefined, userId: string, deviceId: number): Envelope {
  const s = message?.encrypted?.scheme;
  const env = s?.case === "deviceEnvelopes" ? s.value.envelopes.find((e) => e.userId === userId && e.deviceId === deviceId) : undefined;
  if (!env) expect.fail(`no envelope for ${userId}.${deviceId}`);
  return { type: env.type, body: Buffer.from(env.ciphertext).toString("base64") };
}

/** libsignal's output as the typed envelope of the chat contract. */
function deviceEnvelope(userId: string, deviceId: number, env: Envelope): DeviceEnvelope {
  return create(DeviceEnvelopeSchema, { userId, deviceId, type: env.type, ciphertext: new Uint8Array(Buffer.from(env.body, "base64")) });
}

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) expect.fail("the call succeeded but should have failed");
  return err;
}

/** Verifies the signed, hash-linked device-list history of `userId` against the directory's published key. */
async function verifiedHistory(dir: Directory, userId: string) {
  const { key } = await dir.getDirectorySigningKey({});
  const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), key!.publicKey]);
  const publicKey = createPublicKey({ key: spki, format: "der", type: "spki" });
  const changes = [];
  let token = "";
  do {
    const page = await dir.getDeviceListHistory({ userId, pageSize: 2, pageToken: token });
    changes.push(...page.changes);
    token = page.nextPageToken;
  } while (token !== "");
  let previous = Buffer.alloc(32);
  return changes.map((signed, i) => {
    expect(signed.keyId).toBe(key!.keyId);
    expect(verify(null, signed.change, publicKey, signed.signature)).toBe(true);
    const change = fromBinary(DeviceListChangeSchema, signed.change);
    expect(change.seq).toBe(BigInt(i + 1));
    expect(Buffer.from(change.previousHash).equals(previous)).toBe(true);
    previous = createHash("sha256").update(signed.change).digest();
    return change;
  });
}

/**
 * Alice and bob's two devices publish real libsignal keys; alice claims bob's bundles through the
 * gateway, starts PQXDH sessions with libsignal and sends three encrypted messages through an
 * end-to-end encrypted chat conversation (one typed envelope per device of bob); bob's first
 * device decrypts them live over realtime, his second from history; a removed device gets no
 * bundle afterwards.
 */
async function walkThrough(gateway: string, adminCredential: string) {
  const t = await tenantWithUsers(gateway, adminCredential, ["alice", "bob", "carol"], "crypto-e2e");
  const bob2Token = (await t.issue("bob", "d2")).accessToken;
  const dir = (token: string) => createClient(KeyDirectoryService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token)] }));
  const aliceDir = dir(t.token("alice"));
  const bobDir = dir(t.token("bob"));

  const alice1 = new SignalDevice("alice", 1);
  const bob1 = new SignalDevice("bob", 1);
  const bob2 = new SignalDevice("bob", 2);
  expect((await aliceDir.publishDeviceKeys(alice1.publishRequest(5))).device?.oneTimePrekeyCount).toBe(5);
  // Ten one-time keys: the first claim takes bob's first device below the low-water mark (10).
  await bobDir.publishDeviceKeys(bob1.publishRequest(10));
  await dir(bob2Token).publishDeviceKeys(bob2.publishRequest(3));
  const listed = await aliceDir.listDevices({ userId: "bob" });
  expect(listed.devices.map((d) => [d.deviceId, Buffer.from(d.identityKey).equals(Buffer.from(d.deviceId === 1 ? bob1.identity.publicKey.serialize() : bob2.identity.publicKey.serialize()))])).toEqual(
    [
      [1, true],
      [2, true],
    ],
  );
  expect(listed.devices.map((d) => d.oneTimePrekeyCount)).toEqual([0, 0]);
  expect((await bobDir.listDevices({ userId: "bob" })).devices.map((d) => d.oneTimePrekeyCount)).toEqual([10, 3]);

  // Bob's first device is online.
  const bobLive = await wsConnection(gateway, "bob-d1");
  try {
    expect((await bobLive.call({ id: 1n, frame: { case: "auth", value: { accessToken: t.token("bob") } } })).frame.case).toBe("authOk");

    const { bundles } = await aliceDir.claimPreKeyBundles({ userId: "bob" });
    expect(bundles.map((b) => [b.deviceId, b.oneTimePrekey?.keyId])).toEqual([
      [1, 1],
      [2, 1],
    ]);
    for (const b of bundles) await alice1.startSession(b);
    const low = await bobLive.waitFor((f: ServerFrame) => f.frame.case === "prekeysLow", 15_000, "prekeys_low");
    expect(low.frame.value).toMatchObject({ deviceId: 1, remaining: 9, threshold: 10 });
    expect((await bobDir.getPreKeyCount({ deviceId: 1 })).oneTimePrekeyCount).toBe(9);

    const chat = createClient(ChatService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(t.token("alice"))] }));
    const conv = (await chat.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "secret", endToEndEncrypted: true })).conversation!;
    expect(conv.endToEndEncrypted).toBe(true);
    const texts = ["first secret", "second secret", "third secret"];
    for (const [i, text] of texts.entries()) {
      const envelopes = [];
      for (const d of [1, 2]) envelopes.push(deviceEnvelope("bob", d, await alice1.encrypt("bob", d, text)));
      await chat.sendMessage({ conversationId: conv.id, clientMessageId: `e2ee-${i}`, encrypted: { scheme: { case: "deviceEnvelopes", value: { envelopes } } } });
    }

    // Bob's first device: live, decrypting in order; every message is a PreKey message on his one-time key 1.
    const received: string[] = [];
    for (const i of texts.keys()) {
      const frame = await bobLive.waitFor(
        (f) => f.frame.case === "event" && f.frame.value.payload.case === "messageCreated" && f.frame.value.payload.value.message?.clientMessageId === `e2ee-${i}`,
        15_000,
        `message ${i}`,
      );
      const message = frame.frame.case === "event" && frame.frame.value.payload.case === "messageCreated" ? frame.frame.value.payload.value.message! : undefined;
      expect(message!.text).toBe("");
      expect(message!.custom).toBeUndefined();
      const env = envelopeOf(message, "bob", 1);
      const { text, preKeyId } = await bob1.decrypt("alice", 1, env);
      expect(preKeyId).toBe(1);
      received.push(text);
    }
    expect(received).toEqual(texts);
    expect(bob1.preKeys.map.has(1)).toBe(false);

    // Alice adds a device: bob, who shares the conversation with her, is told live to fetch her device list again.
    const alice2Token = (await t.issue("alice", "d2")).accessToken;
    await dir(alice2Token).publishDeviceKeys(new SignalDevice("alice", 2).publishRequest(1));
    const changed = await bobLive.waitFor((f: ServerFrame) => f.frame.case === "keysChanged", 15_000, "keys_changed");
    expect(changed.frame.value).toMatchObject({ userId: "alice", deviceId: 2, kind: DeviceChangeKind.ADDED, changeSeq: 2n });

    // Bob's second device: its own envelopes, from history.
    const bobChat = createClient(ChatService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(bob2Token)] }));
    const history = await bobChat.listMessages({ conversationId: conv.id, pageSize: 10 });
    const mine = [...history.messages].sort((a, b) => Number(a.seq - b.seq)).filter((m) => m.encrypted);
    expect(mine).toHaveLength(3);
    const second: string[] = [];
    for (const m of mine) second.push((await bob2.decrypt("alice", 1, envelopeOf(m, "bob", 2))).text);
    expect(second).toEqual(texts);
    // The first device's envelopes mean nothing to the second (another session).
    await expect(bob2.decrypt("alice", 1, envelopeOf(mine[0], "bob", 1))).rejects.toThrow();
  } finally {
    bobLive.close();
  }

  // Each one-time key went out once: the next claim gets key 2 of device 1 and key 2 of device 2.
  const carolDir = dir(t.token("carol"));
  expect((await carolDir.claimPreKeyBundles({ userId: "bob", deviceIds: [2] })).bundles.map((b) => b.oneTimePrekey?.keyId)).toEqual([2]);

  // Safety numbers: the directory's equals libsignal's own, and both sides see the same.
  const expected = Fingerprint.new(5200, 2, Buffer.from("alice"), alice1.identity.publicKey, Buffer.from("bob"), bob1.identity.publicKey).displayableFingerprint().toString();
  expect((await aliceDir.getSafetyNumber({ deviceId: 1, remoteUserId: "bob", remoteDeviceId: 1 })).safetyNumber).toBe(expected);
  expect((await bobDir.getSafetyNumber({ deviceId: 1, remoteUserId: "alice", remoteDeviceId: 1 })).safetyNumber).toBe(expected);

  // Bob's second device is removed: its keys are no longer handed out.
  await dir(bob2Token).removeDevice({ deviceId: 2 });
  expect((await aliceDir.claimPreKeyBundles({ userId: "bob" })).bundles.map((b) => [b.deviceId, b.oneTimePrekey?.keyId])).toEqual([[1, 2]]);
  expect((await failure(aliceDir.claimPreKeyBundles({ userId: "bob", deviceIds: [2] }))).code).toBe(Code.NotFound);

  // A rotation keeps the previous signed prekey for the grace period; bundles carry the new one.
  const rotated = await bobDir.replaceSignedPreKey({ deviceId: 1, signedPrekey: bob1.signedPreKey(2) });
  expect(rotated.device?.signedPrekey?.keyId).toBe(2);
  expect(rotated.device?.previousSignedPrekey?.keyId).toBe(1);
  expect((await aliceDir.claimPreKeyBundles({ userId: "bob" })).bundles[0]?.signedPrekey?.keyId).toBe(2);

  // The history: signed by the published key, hash-linked, and complete.
  const changes = await verifiedHistory(aliceDir, "bob");
  expect(changes.map((c) => [c.kind, c.deviceId, c.deviceIds])).toEqual([
    [DeviceChangeKind.ADDED, 1, [1]],
    [DeviceChangeKind.ADDED, 2, [1, 2]],
    [DeviceChangeKind.REMOVED, 2, [1]],
    [DeviceChangeKind.KEYS_ROTATED, 1, [1]],
  ]);
  expect(Buffer.from(changes[1]!.identityKey).equals(Buffer.from(bob2.identity.publicKey.serialize()))).toBe(true);
  expect(changes[3]!.signedPrekeyId).toBe(2);
  return t;
}

/** Every refusal is a clear status and leaves nothing behind. */
async function badInput(gateway: string, adminCredential: string) {
  const t = await tenantWithUsers(gateway, adminCredential, ["alice", "bob", "carol"], "crypto-bad");
  const other = await tenantWithUsers(gateway, adminCredential, ["bob"], "crypto-bad-other");
  const dir = (token: string) => createClient(KeyDirectoryService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token)] }));
  const bobDir = dir(t.token("bob"));
  const bob = new SignalDevice("bob", 1);

  // A signed prekey signed by another identity key.
  const forged = bob.publishRequest(2);
  const mallory = new SignalDevice("mallory", 1);
  forged.signedPrekey = mallory.signedPreKey(1);
  const badSig = await failure(bobDir.publishDeviceKeys(forged));
  expect(badSig.code).toBe(Code.InvalidArgument);
  expect(badSig.message).toContain("signed_prekey.signature");
  // A Kyber key signed by another identity; a curve key with the wrong type byte; a short key.
  const badKyber = bob.publishRequest(0);
  badKyber.kyberPrekey = mallory.kyberPreKey(1);
  expect((await failure(bobDir.publishDeviceKeys(badKyber))).message).toContain("kyber_prekey.signature");
  const badType = bob.publishRequest(1);
  badType.oneTimePrekeys[0]!.publicKey[0] = 0x07;
  expect((await failure(bobDir.publishDeviceKeys(badType))).code).toBe(Code.InvalidArgument);
  const short = bob.publishRequest(0);
  short.identityKey = short.identityKey.subarray(0, 32);
  expect((await failure(bobDir.publishDeviceKeys(short))).code).toBe(Code.InvalidArgument);
  // Oversized batches, at publish and upload.
  expect((await failure(bobDir.publishDeviceKeys(bob.publishRequest(101)))).code).toBe(Code.InvalidArgument);
  expect(await bobDir.listDevices({ userId: "bob" })).toMatchObject({ devices: [] });
  expect((await failure(bobDir.claimPreKeyBundles({ userId: "bob" }))).code).toBe(Code.NotFound);
  expect((await bobDir.getDeviceListHistory({ userId: "bob" })).changes).toEqual([]);

  // Published for real; the same device again is ALREADY_EXISTS and changes nothing.
  const request = bob.publishRequest(3);
  const published = (await bobDir.publishDeviceKeys(request)).device!;
  expect((await failure(bobDir.publishDeviceKeys(bob.publishRequest(3)))).code).toBe(Code.AlreadyExists);
  expect((await bobDir.listDevices({ userId: "bob" })).devices[0]?.identityKey).toEqual(published.identityKey);

  // A replayed upload (two fresh ids and one published one), a batch of 101, a repeated id within a call.
  const replayed = { keyId: request.oneTimePrekeys[1]!.keyId, publicKey: bob.oneTimePreKeys(1)[0]!.publicKey };
  const replay = await failure(bobDir.uploadOneTimePreKeys({ deviceId: 1, oneTimePrekeys: [...bob.oneTimePreKeys(2), replayed] }));
  expect(replay.code).toBe(Code.AlreadyExists);
  expect((await failure(bobDir.uploadOneTimePreKeys({ deviceId: 1, oneTimePrekeys: bob.oneTimePreKeys(101) }))).code).toBe(Code.InvalidArgument);
  const dup = bob.oneTimePreKeys(1)[0]!;
  expect((await failure(bobDir.uploadOneTimePreKeys({ deviceId: 1, oneTimePrekeys: [dup, dup] }))).code).toBe(Code.InvalidArgument);
  expect((await bobDir.getPreKeyCount({ deviceId: 1 })).oneTimePrekeyCount).toBe(3);
  // A claimed key id uploaded again is a replay too.
  const claimed = (await dir(t.token("alice")).claimPreKeyBundles({ userId: "bob" })).bundles[0]!.oneTimePrekey!;
  expect((await failure(bobDir.uploadOneTimePreKeys({ deviceId: 1, oneTimePrekeys: [{ keyId: claimed.keyId, publicKey: claimed.publicKey }] }))).code).toBe(Code.AlreadyExists);
  expect((await bobDir.getPreKeyCount({ deviceId: 1 })).oneTimePrekeyCount).toBe(2);

  // Another tenant's bob: no device of this tenant exists for him, and this tenant's bob is invisible.
  const otherBob = dir(other.token("bob"));
  expect((await failure(otherBob.uploadOneTimePreKeys({ deviceId: 1, oneTimePrekeys: bob.oneTimePreKeys(1) }))).code).toBe(Code.NotFound);
  expect((await failure(otherBob.claimPreKeyBundles({ userId: "bob" }))).code).toBe(Code.NotFound);
  expect((await failure(otherBob.getPreKeyCount({ deviceId: 1 }))).code).toBe(Code.NotFound);
  expect((await failure(otherBob.removeDevice({ deviceId: 1 }))).code).toBe(Code.NotFound);
  expect((await otherBob.listDevices({ userId: "bob" })).devices).toEqual([]);
  expect((await otherBob.getDeviceListHistory({ userId: "bob" })).changes).toEqual([]);
  expect((await bobDir.getPreKeyCount({ deviceId: 1 })).oneTimePrekeyCount).toBe(2);

  // A user with no devices; a rotation without a device; a rotation signed by another key; no token.
  expect((await failure(bobDir.claimPreKeyBundles({ userId: "carol" }))).code).toBe(Code.NotFound);
  expect((await failure(bobDir.claimPreKeyBundles({ userId: "nobody" }))).code).toBe(Code.NotFound);
  // A user id no user can have (a "|", found by the RPC fuzzer as INTERNAL) is a bad argument on every read by user.
  expect((await failure(bobDir.claimPreKeyBundles({ userId: "bo|b" }))).code).toBe(Code.InvalidArgument);
  expect((await failure(bobDir.claimKeyPackages({ userId: "bo|b" }))).code).toBe(Code.InvalidArgument);
  expect((await failure(bobDir.listDevices({ userId: "bo|b" }))).code).toBe(Code.InvalidArgument);
  expect((await failure(bobDir.getDeviceListHistory({ userId: "bo|b" }))).code).toBe(Code.InvalidArgument);
  expect((await failure(dir(t.token("carol")).replaceSignedPreKey({ deviceId: 1, signedPrekey: bob.signedPreKey(5) }))).code).toBe(Code.NotFound);
  expect((await failure(bobDir.replaceSignedPreKey({ deviceId: 1, signedPrekey: mallory.signedPreKey(5) }))).code).toBe(Code.InvalidArgument);
  expect((await failure(bobDir.getDeviceListHistory({ userId: "bob", pageToken: "x" }))).code).toBe(Code.InvalidArgument);
  const anonymous = createClient(KeyDirectoryService, createGrpcTransport({ baseUrl: gateway }));
  expect((await failure(anonymous.listDevices({ userId: "bob" }))).code).toBe(Code.Unauthenticated);
  expect((await bobDir.getDeviceListHistory({ userId: "bob" })).changes).toHaveLength(1);
}

describe("key directory with libsignal clients (embedded platform, through the gateway)", () => {
  const gateway = platform.endpoints.gateway!;
  const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();

  it("claims bundles, starts sessions, relays three encrypted messages to two devices, and stops serving a removed device", async () => {
    await walkThrough(gateway, adminCredential);
  }, 60_000);

  it("refuses bad signatures, bad keys, oversized batches, replays, other tenants and users without devices, storing nothing", async () => {
    await badInput(gateway, adminCredential);
  }, 60_000);
});

describe.skipIf(!cluster)("key directory with libsignal clients in cluster mode (through the gateway, MongoDB, Kafka, two socket instances)", () => {
  it("claims bundles, starts sessions, relays three encrypted messages to two devices, and stops serving a removed device", async () => {
    const c = cluster!;
    await walkThrough(c.instances.find((i) => i.service === "gateway")!.url, c.adminToken);
  }, 90_000);

  it("refuses bad input in cluster mode too, storing nothing", async () => {
    const c = cluster!;
    await badInput(c.instances.find((i) => i.service === "gateway")!.url, c.adminToken);
  }, 90_000);
});
