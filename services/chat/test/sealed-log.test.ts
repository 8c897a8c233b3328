import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { MessageSchema } from "@caas/gen/caas/chat/v1/message_pb.js";
import { ReencryptionState } from "@caas/gen/caas/chat/v1/message_keys_internal_service_pb.js";
import { FakeClock } from "@caas/shared/clock";
import type { EventLogStore } from "@caas/shared/eventing/log";
import { createLogger } from "@caas/shared/logger";
import { sealedKeyId } from "@caas/shared/sealing/box";
import { createLocalKms } from "@caas/shared/sealing/kms-local";
import { freshTenantScope } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { openChatStores } from "../src/chat-stores.js";
import { MessageKeyring } from "../src/message-keyring.js";
import { Reencryption } from "../src/reencryption.js";
import { sealedConversations } from "../src/sealed-conversations.js";
import { sealedEventLog } from "../src/sealed-event-log.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-sealed-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger({ service: "test", instance: "t", level: "silent" });
const conversationId = "0190d6a0-0000-7000-8000-0000000000c1";

/** A MessageCreated entry whose text is `text`. */
async function send(log: EventLogStore, scope: ReturnType<typeof freshTenantScope>, text: string) {
  const eventId = `e-${text}`;
  return log.append(scope, {
    conversationId,
    eventId,
    actorId: "alice",
    clientMessageId: text,
    payloadHash: text,
    countable: true,
    encode: ({ seq }) =>
      toBinary(
        EventSchema,
        create(EventSchema, {
          conversationId,
          seq: BigInt(seq),
          eventId,
          actorId: "alice",
          payload: { case: "messageCreated", value: { message: create(MessageSchema, { id: `m-${text}`, seq: BigInt(seq), text }) } },
        }),
      ),
  });
}
const texts = (events: { body: Uint8Array }[]) =>
  events.map((e) => fromBinary(EventSchema, e.body)).map((e) => (e.payload.case === "messageCreated" ? e.payload.value.message!.text : `(${e.payload.case})`));

describe("the sealed conversation log (chat's stores on SQLite)", () => {
  it("reads entries written before sealing, re-seals every entry and preview under a rotated key, and reads shredded ones as redacted", async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const stores = await openChatStores({ kind: "sqlite", path: join(dir, "chat.db") }, { clock });
    try {
      const keys = new MessageKeyring({ store: stores.dataKeys, kms: createLocalKms(new Uint8Array(32).fill(1)), clock });
      const [scope, other] = [freshTenantScope(), freshTenantScope()];
      const plain = sealedEventLog(stores.events, keys, { sealWrites: false });
      const sealed = sealedEventLog(stores.events, keys);
      await send(plain, scope, "written before");
      await send(sealed, scope, "sealed one");
      await send(sealed, scope, "sealed two");
      await send(sealed, other, "other tenant");
      const first = (await keys.current(scope.tenantId)).id;
      expect((await stores.events.read(scope, conversationId, 0, 10)).map((e) => sealedKeyId(e.body) ?? "plain")).toEqual(["plain", first, first]);
      expect(texts(await sealed.read(scope, conversationId, 0, 10))).toEqual(["written before", "sealed one", "sealed two"]);
      // A duplicate append returns the stored entry opened.
      expect(texts([(await send(sealed, scope, "sealed one")).event])).toEqual(["sealed one"]);

      // The preview is sealed in the store and opened on reads.
      const convs = sealedConversations(stores.conversations, keys);
      await convs.create(scope, { id: conversationId, kind: "group", title: "t", avatarUrl: "", createdBy: "alice", createTimeMs: clock.nowMs(), joinPolicy: "invite_only" });
      await convs.recordEvent(scope, conversationId, {
        seq: 3,
        countableSeq: 3,
        timeMs: clock.nowMs(),
        activity: true,
        lastMessage: { messageId: "m-3", seq: 3, senderId: "alice", textPreview: "sealed two", attachmentCount: 0, createTimeMs: clock.nowMs() },
      });
      expect((await stores.conversations.get(scope, conversationId))!.lastMessage!.textPreview).not.toContain("sealed two");
      expect((await convs.get(scope, conversationId))!.lastMessage!.textPreview).toBe("sealed two");

      // Rotation: the run re-seals the plaintext entry too, and the preview.
      const rotated = await keys.rotate(scope.tenantId);
      const run = new Reencryption({ events: stores.events, conversations: stores.conversations, keys, store: stores.dataKeys, clock, logger });
      await run.start(scope.tenantId, rotated);
      expect(await run.progress(scope.tenantId)).toMatchObject({ state: ReencryptionState.DONE, keyId: rotated.id, scanned: 3n, resealed: 4n, unreadable: 0n });
      expect((await stores.events.read(scope, conversationId, 0, 10)).map((e) => sealedKeyId(e.body))).toEqual([rotated.id, rotated.id, rotated.id]);
      expect(texts(await sealed.read(scope, conversationId, 0, 10))).toEqual(["written before", "sealed one", "sealed two"]);
      expect((await convs.get(scope, conversationId))!.lastMessage!.textPreview).toBe("sealed two");
      expect((await run.progress(other.tenantId)).state).toBe(ReencryptionState.IDLE);

      // Shredding: the entries read as redacted messages; the preview reads empty; the other tenant is untouched.
      expect(await keys.shred(scope.tenantId)).toBe(2);
      const gone = await sealed.read(scope, conversationId, 0, 10);
      expect(gone.map((e) => e.redacted)).toEqual([true, true, true]);
      expect(texts(gone)).toEqual(["", "", ""]);
      expect(gone.map((e) => Number(fromBinary(EventSchema, e.body).seq))).toEqual([1, 2, 3]);
      expect((await convs.get(scope, conversationId))!.lastMessage!.textPreview).toBe("");
      expect(texts(await sealed.read(other, conversationId, 0, 10))).toEqual(["other tenant"]);
    } finally {
      await stores.close();
    }
  });

  it("resumes a re-encryption cut short from its saved position after a restart, and reports it from the store", async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const path = join(dir, "chat-resume.db");
    const kms = createLocalKms(new Uint8Array(32).fill(3));
    const scope = freshTenantScope();
    let rotatedId: string;
    let firstId: string;
    {
      const stores = await openChatStores({ kind: "sqlite", path }, { clock });
      const keys = new MessageKeyring({ store: stores.dataKeys, kms, clock });
      const sealed = sealedEventLog(stores.events, keys);
      for (const text of ["one", "two", "three", "four"]) await send(sealed, scope, text);
      firstId = (await keys.current(scope.tenantId)).id;
      rotatedId = (await keys.rotate(scope.tenantId)).id;
      // The process died after the run saved its position behind entry 2 (as it does after every page).
      await stores.dataKeys.saveRun({
        tenantId: scope.tenantId,
        keyId: rotatedId,
        state: "running",
        scanned: 2,
        resealed: 0,
        unreadable: 0,
        cursor: JSON.stringify({ phase: "log", conversationId, seq: 2 }),
        startMs: clock.nowMs(),
        endMs: 0,
        error: "",
      });
      await stores.close();
    }
    const stores = await openChatStores({ kind: "sqlite", path }, { clock });
    try {
      const keys = new MessageKeyring({ store: stores.dataKeys, kms, clock });
      const run = new Reencryption({ events: stores.events, conversations: stores.conversations, keys, store: stores.dataKeys, clock, logger });
      expect(await run.progress(scope.tenantId)).toMatchObject({ state: ReencryptionState.RUNNING, keyId: rotatedId, scanned: 2n });
      await run.resumeAll();
      // Entries after the saved position were re-sealed; the ones before it were not visited again.
      expect((await stores.events.read(scope, conversationId, 0, 10)).map((e) => sealedKeyId(e.body))).toEqual([firstId, firstId, rotatedId, rotatedId]);
      expect(await run.progress(scope.tenantId)).toMatchObject({ state: ReencryptionState.DONE, keyId: rotatedId, scanned: 4n, resealed: 2n, unreadable: 0n });
      expect(texts(await sealedEventLog(stores.events, keys).read(scope, conversationId, 0, 10))).toEqual(["one", "two", "three", "four"]);
      // Nothing is left to resume.
      expect(await stores.dataKeys.runningRuns(10)).toEqual([]);
    } finally {
      await stores.close();
    }
  });
});
