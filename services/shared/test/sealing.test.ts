import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { MessageSchema } from "@caas/gen/caas/chat/v1/message_pb.js";
import { ChatEventEnvelopeSchema } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { afterAll, describe, expect, it } from "vitest";
import { createSqliteEventBus } from "../src/bus/event-bus-sqlite.js";
import { CHAT_EVENTS } from "../src/bus/topics.js";
import { systemClock } from "../src/clock.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { chatEventAad, openEnvelope, sealedEnvelopeValue, unreadableMessageId, type DataKeySource } from "../src/sealing/chat-event-sealing.js";
import { createLocalKms } from "../src/sealing/kms-local.js";
import { KEK_FILE, openKmsForConfig } from "../src/sealing/kms-select.js";
import { openingChatEvents } from "../src/sealing/opening-bus.js";
import { isSealed, open, seal, sealedKeyId, type DataKey } from "../src/sealing/sealed-box.js";

const dir = mkdtempSync(join(tmpdir(), "caas-sealing-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger({ service: "test", instance: "t", level: "silent" });
const key = (id: string): DataKey => ({ id, bytes: new Uint8Array(32).fill(id.length) });
const T = 1_780_000_000_000;

describe("sealed values (AES-256-GCM with the key id beside the ciphertext)", () => {
  it("open with the same key and additional data only; the key id and version travel in the clear", () => {
    const k = key("key-1");
    const sealed = seal(k, Buffer.from("hello marker"), "chat-event|t|c|1");
    expect(isSealed(sealed)).toBe(true);
    expect(sealed[1]).toBe(1);
    expect(sealedKeyId(sealed)).toBe("key-1");
    expect(Buffer.from(sealed).includes(Buffer.from("marker"))).toBe(false);
    expect(Buffer.from(open(k, sealed, "chat-event|t|c|1")).toString()).toBe("hello marker");
    // Two seals of one text differ (random nonce).
    expect(Buffer.from(seal(k, Buffer.from("hello marker"), "a")).equals(Buffer.from(seal(k, Buffer.from("hello marker"), "a")))).toBe(false);
    expect(() => open(k, sealed, "chat-event|t|c|2")).toThrow();
    expect(() => open(key("key-22"), sealed, "chat-event|t|c|1")).toThrow();
    const tampered = Uint8Array.from(sealed);
    tampered[tampered.length - 20]! ^= 1;
    expect(() => open(k, tampered, "chat-event|t|c|1")).toThrow();
    expect(() => open(k, sealed.subarray(0, 20), "chat-event|t|c|1")).toThrow(/cut short/);
  });

  it("tells a serialized Event (stored before encryption at rest) from a sealed one", () => {
    const plain = toBinary(EventSchema, create(EventSchema, { conversationId: "c", seq: 1n }));
    expect(isSealed(plain)).toBe(false);
    expect(sealedKeyId(plain)).toBeUndefined();
    expect(() => seal(key("no spaces allowed"), plain, "x")).toThrow(/key id/);
  });
});

describe("the local KMS", () => {
  it("wraps data keys under the KEK, bound to their context; another KEK or context cannot unwrap", async () => {
    const kms = createLocalKms(new Uint8Array(32).fill(7));
    const data = new Uint8Array(32).fill(9);
    const wrapped = await kms.wrapKey(data, "data-key|t1|k1");
    expect(Buffer.from(wrapped).includes(Buffer.from(data))).toBe(false);
    expect(new Uint8Array(await kms.unwrapKey(wrapped, "data-key|t1|k1"))).toEqual(data);
    await expect(kms.unwrapKey(wrapped, "data-key|t2|k1")).rejects.toThrow();
    await expect(createLocalKms(new Uint8Array(32).fill(8)).unwrapKey(wrapped, "data-key|t1|k1")).rejects.toThrow();
    expect(kms.kekId).toBe(createLocalKms(new Uint8Array(32).fill(7)).kekId);
    expect(() => createLocalKms(new Uint8Array(16))).toThrow(/32 bytes/);
  });

  it("takes CAAS_KEK, else generates one KEK file (mode 0600) in the embedded data directory, else derives one in cluster mode", async () => {
    const kek = Buffer.alloc(32, 3).toString("base64");
    const configured = await openKmsForConfig(loadConfig({ CAAS_KEK: kek, CAAS_DATA_DIR: dir }), logger);
    expect(configured.kekId).toBe(createLocalKms(Buffer.alloc(32, 3)).kekId);
    expect(() => loadConfig({ CAAS_KEK: "c2hvcnQ=" })).toThrow(/CAAS_KEK/);

    const dataDir = join(dir, "data");
    const [a, b] = await Promise.all([openKmsForConfig(loadConfig({ CAAS_DATA_DIR: dataDir }), logger), openKmsForConfig(loadConfig({ CAAS_DATA_DIR: dataDir }), logger)]);
    expect(a.kekId).toBe(b.kekId);
    expect(statSync(join(dataDir, KEK_FILE)).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(join(dataDir, KEK_FILE), "utf8").trim(), "base64")).toHaveLength(32);
    // A later start finds the same KEK.
    expect((await openKmsForConfig(loadConfig({ CAAS_DATA_DIR: dataDir }), logger)).kekId).toBe(a.kekId);
  });
});

describe("sealed chat events on the bus", () => {
  const tenantId = "0190d6a0-0000-7000-8000-000000000001";
  const conversationId = "0190d6a0-0000-7000-8000-0000000000c1";
  const k = key("key-bus");
  const keys = (available: boolean): DataKeySource => ({ key: async (t, id) => (available && t === tenantId && id === k.id ? k : undefined) });
  const event = create(EventSchema, {
    conversationId,
    seq: 3n,
    eventId: "e3",
    actorId: "alice",
    createTime: timestampFromMs(T),
    payload: { case: "messageCreated", value: { message: create(MessageSchema, { id: "m3", conversationId, seq: 3n, senderId: "alice", text: "the secret marker" }) } },
  });
  const header = { conversationId, seq: 3, eventId: "e3", actorId: "alice", createTimeMs: T, countable: true, redacted: false };
  const sealedBody = seal(k, toBinary(EventSchema, event), chatEventAad(tenantId, conversationId, 3));

  it("travel sealed and reach handlers opened, once per record; a record whose key was destroyed arrives redacted", async () => {
    const bus = await createSqliteEventBus({ path: join(dir, "bus.db"), logger, clock: systemClock });
    try {
      const value = sealedEnvelopeValue(tenantId, header, sealedBody, "corr");
      expect(Buffer.from(toBinary(ChatEventEnvelopeSchema, value)).includes(Buffer.from("marker"))).toBe(false);
      await bus.publish(CHAT_EVENTS, [{ key: conversationId, headers: {}, value }]);
      const got: string[] = [];
      const sub = await openingChatEvents(bus, keys(true)).subscribe(CHAT_EVENTS, { group: "g1", from: "earliest" }, async (r) => {
        const p = r.value.payload;
        if (p.case === "event" && p.value.payload.case === "messageCreated") got.push(p.value.payload.value.message!.text);
      });
      await expect.poll(() => got).toEqual(["the secret marker"]);
      await sub.close();
      const redacted = await openEnvelope(keys(false), value);
      expect(redacted.payload.case).toBe("event");
      const e = redacted.payload.value as typeof event;
      expect(e.redacted).toBe(true);
      expect(e.seq).toBe(3n);
      expect(e.payload.case === "messageCreated" && e.payload.value.message).toMatchObject({ id: unreadableMessageId(3, T), text: "", senderId: "alice", seq: 3n });
    } finally {
      await bus.close();
    }
  });

  it("refuse a sealed body moved to another entry or tenant (the additional data differs)", async () => {
    const moved = sealedEnvelopeValue(tenantId, { ...header, seq: 4 }, sealedBody, "");
    await expect(openEnvelope(keys(true), moved)).rejects.toThrow();
    const otherTenant = create(ChatEventEnvelopeSchema, { ...sealedEnvelopeValue(tenantId, header, sealedBody, ""), tenantId: "0190d6a0-0000-7000-8000-000000000002" });
    await expect(openEnvelope({ key: async () => k }, otherTenant)).rejects.toThrow();
  });
});
