import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeMlsMessage,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  encodeMlsMessage,
  generateKeyPackage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  processPrivateMessage,
  type CiphersuiteImpl,
  type ClientState,
  type MLSMessage,
} from "ts-mls";
import { describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MessageOrder } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { KeyDirectoryService } from "@caas/gen/caas/crypto/v1/key_directory_service_pb.js";
import { SignalDevice } from "../support/signal-device.js";
import { bearer, tenantWithUsers } from "../support/tenants.js";

const platform = inject("embedded");
const cluster = inject("cluster");

const text = (s: string) => new TextEncoder().encode(s);

/** The wire bytes of an MLSMessage (RFC 9420 §6). */
function wire(message: MLSMessage): Uint8Array {
  return encodeMlsMessage(message);
}

/**
 * Alice and bob use ts-mls (RFC 9420, ciphersuite 1) through the platform: bob uploads
 * KeyPackages to the key directory, alice claims one, creates a group adding him, and relays the
 * Welcome, application messages and a later commit through an end-to-end encrypted conversation
 * as opaque `mls_message` blobs; bob reads them in seq order, joins from the Welcome, follows the
 * commit into the next epoch and decrypts everything; alice decrypts his reply.
 */
async function walkThrough(gateway: string, adminCredential: string) {
  const t = await tenantWithUsers(gateway, adminCredential, ["alice", "bob"], "mls-e2e");
  const transport = (user: string) => createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(t.token(user))] });
  const dir = (user: string) => createClient(KeyDirectoryService, transport(user));
  const chat = (user: string) => createClient(ChatService, transport(user));
  const impl: CiphersuiteImpl = await getCiphersuiteImpl(getCiphersuiteFromName("MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"));
  const credential = (user: string) => ({ credentialType: "basic" as const, identity: text(user) });

  // KeyPackages belong to a published device of the key directory.
  for (const user of ["alice", "bob"]) await dir(user).publishDeviceKeys(new SignalDevice(user, 1).publishRequest(0));
  const bobPackages = await Promise.all([1, 2].map(() => generateKeyPackage(credential("bob"), defaultCapabilities(), defaultLifetime, [], impl)));
  const uploaded = await dir("bob").uploadKeyPackages({
    deviceId: 1,
    keyPackages: bobPackages.map((p, i) => ({ keyPackageId: i + 1, keyPackage: wire({ keyPackage: p.publicPackage, wireformat: "mls_key_package", version: "mls10" }) })),
  });
  expect(uploaded.keyPackageCount).toBe(2);

  // Alice claims one of bob's KeyPackages and creates the group with him.
  const claimed = (await dir("alice").claimKeyPackages({ userId: "bob" })).keyPackages;
  expect(claimed.map((k) => [k.deviceId, k.keyPackage?.keyPackageId])).toEqual([[1, 1]]);
  expect((await dir("bob").getPreKeyCount({ deviceId: 1 })).keyPackageCount).toBe(1);
  const decoded = decodeMlsMessage(claimed[0]!.keyPackage!.keyPackage, 0)![0];
  if (decoded.wireformat !== "mls_key_package") expect.fail("the claimed blob is not a KeyPackage");
  const alicePackage = await generateKeyPackage(credential("alice"), defaultCapabilities(), defaultLifetime, [], impl);
  let alice: ClientState = await createGroup(text("mls-e2e-group"), alicePackage.publicPackage, alicePackage.privatePackage, [], impl);
  const added = await createCommit({ state: alice, cipherSuite: impl }, { extraProposals: [{ proposalType: "add", add: { keyPackage: decoded.keyPackage } }], ratchetTreeExtension: true });
  alice = added.newState;

  const conv = (await chat("alice").createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "mls", endToEndEncrypted: true })).conversation!;
  const relay = async (id: string, blob: Uint8Array) => chat("alice").sendMessage({ conversationId: conv.id, clientMessageId: id, encrypted: { scheme: { case: "mlsMessage", value: blob } } });
  const appMessage = async (body: string) => {
    const r = await createApplicationMessage(alice, text(body), impl);
    alice = r.newState;
    return wire({ privateMessage: r.privateMessage, wireformat: "mls_private_message", version: "mls10" });
  };
  await relay("welcome", wire({ welcome: added.welcome!, wireformat: "mls_welcome", version: "mls10" }));
  await relay("m1", await appMessage("first mls secret"));
  await relay("m2", await appMessage("second mls secret"));
  // A commit moves the group to the next epoch; messages after it are only readable by who applied it.
  const update = await createCommit({ state: alice, cipherSuite: impl }, {});
  alice = update.newState;
  await relay("commit", wire(update.commit));
  await relay("m3", await appMessage("third mls secret"));

  // Bob reads the conversation in order: Welcome, messages, commit, message.
  const listed = (await chat("bob").listMessages({ conversationId: conv.id, order: MessageOrder.OLDEST_FIRST })).messages;
  expect(listed.map((m) => m.clientMessageId)).toEqual(["welcome", "m1", "m2", "commit", "m3"]);
  let bob: ClientState | undefined;
  const plain: string[] = [];
  for (const m of listed) {
    expect(m.text).toBe("");
    const s = m.encrypted?.scheme;
    if (s?.case !== "mlsMessage") expect.fail("not an MLS message");
    const msg = decodeMlsMessage(s.value, 0)![0];
    if (msg.wireformat === "mls_welcome") {
      bob = await joinGroup(msg.welcome, bobPackages[0]!.publicPackage, bobPackages[0]!.privatePackage, emptyPskIndex, impl);
      continue;
    }
    if (msg.wireformat !== "mls_private_message" || !bob) expect.fail(`unexpected ${msg.wireformat}`);
    const r = await processPrivateMessage(bob, msg.privateMessage, emptyPskIndex, impl);
    bob = r.newState;
    if (r.kind === "applicationMessage") plain.push(new TextDecoder().decode(r.message));
  }
  expect(plain).toEqual(["first mls secret", "second mls secret", "third mls secret"]);
  expect(bob!.groupContext.epoch).toBe(alice.groupContext.epoch);

  // Bob answers; alice decrypts.
  const reply = await createApplicationMessage(bob!, text("hello alice"), impl);
  await chat("bob").sendMessage({
    conversationId: conv.id,
    clientMessageId: "reply",
    encrypted: { scheme: { case: "mlsMessage", value: wire({ privateMessage: reply.privateMessage, wireformat: "mls_private_message", version: "mls10" }) } },
  });
  const last = (await chat("alice").listMessages({ conversationId: conv.id, pageSize: 1 })).messages[0]!;
  const s = last.encrypted?.scheme;
  if (s?.case !== "mlsMessage") expect.fail("not an MLS message");
  const got = decodeMlsMessage(s.value, 0)![0];
  if (got.wireformat !== "mls_private_message") expect.fail("not a private message");
  const answer = await processPrivateMessage(alice, got.privateMessage, emptyPskIndex, impl);
  expect(answer.kind === "applicationMessage" ? new TextDecoder().decode(answer.message) : answer.kind).toBe("hello alice");

  // Each KeyPackage went out once: the second claim gets the other, the third none.
  expect((await dir("alice").claimKeyPackages({ userId: "bob" })).keyPackages.map((k) => k.keyPackage?.keyPackageId)).toEqual([2]);
  expect((await dir("alice").claimKeyPackages({ userId: "bob" })).keyPackages).toEqual([]);
}

describe("MLS through the key directory and an encrypted conversation (ts-mls clients, embedded platform)", () => {
  it("claims a KeyPackage once, relays Welcome, commit and application messages in order, and both sides decrypt", async () => {
    await walkThrough(platform.endpoints.gateway!, readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim());
  }, 60_000);
});

describe.skipIf(!cluster)("MLS through the key directory and an encrypted conversation (ts-mls clients, cluster mode)", () => {
  it("claims a KeyPackage once, relays Welcome, commit and application messages in order, and both sides decrypt", async () => {
    const c = cluster!;
    await walkThrough(c.instances.find((i) => i.service === "gateway")!.url, c.adminToken);
  }, 90_000);
});
