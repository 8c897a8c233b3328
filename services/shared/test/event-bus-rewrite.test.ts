import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { ChatEventEnvelopeSchema } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { EventSchema, MessageCreatedSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { MessageSchema } from "@caas/gen/caas/chat/v1/message_pb.js";
import { afterAll, describe, expect, it } from "vitest";
import { createSqliteEventBus } from "../src/bus/event-bus-sqlite.js";
import { CHAT_EVENTS } from "../src/bus/topics.js";
import { systemClock } from "../src/clock.js";
import { createLogger } from "../src/logger.js";

const dir = mkdtempSync(join(tmpdir(), "caas-bus-rewrite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger({ service: "test", instance: "t", level: "silent" });

const envelope = (seq: number, text: string) =>
  create(ChatEventEnvelopeSchema, {
    tenantId: "t1",
    conversationId: "c1",
    payload: {
      case: "event",
      value: create(EventSchema, { seq: BigInt(seq), payload: { case: "messageCreated", value: create(MessageCreatedSchema, { message: create(MessageSchema, { text }) }) } }),
    },
  });

const textOf = (e: ReturnType<typeof envelope>) => (e.payload.case === "event" && e.payload.value.payload.case === "messageCreated" ? e.payload.value.payload.value.message!.text : undefined);

describe("the embedded bus rewrites stored records in place (erasure, retention)", () => {
  it("replaces the records the callback changes, keeps the others, and leaves no old bytes in the file or its WAL", async () => {
    const path = join(dir, "bus.db");
    const bus = await createSqliteEventBus({ path, clock: systemClock, logger });
    const marker = "platypus-erased-words";
    await bus.publish(
      CHAT_EVENTS,
      [1, 2, 3].map((seq) => ({ key: "c1", value: envelope(seq, seq === 2 ? `secret ${marker}` : `kept ${seq}`), headers: {} })),
    );
    const seen: string[] = [];
    const changed = await bus.rewriteRecords!(CHAT_EVENTS, async (value, key) => {
      seen.push(`${key}:${textOf(value)}`);
      return textOf(value)?.includes(marker) ? envelope(2, "") : undefined;
    });
    expect(changed).toBe(1);
    expect(seen).toEqual(["c1:kept 1", `c1:secret ${marker}`, "c1:kept 3"]);

    const read: (string | undefined)[] = [];
    const sub = await bus.subscribe(CHAT_EVENTS, { group: "g", from: "earliest" }, async (r) => void read.push(textOf(r.value)));
    await expect.poll(() => read.length).toBe(3);
    expect(read).toEqual(["kept 1", "", "kept 3"]);
    await sub.close();
    for (const f of readdirSync(dir).filter((f) => f.startsWith("bus.db"))) expect(readFileSync(join(dir, f)).includes(Buffer.from(marker)), f).toBe(false);
    await bus.close();
  });
});
