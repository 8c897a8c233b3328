import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { ChatEventEnvelopeSchema } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { CHAT_EVENTS } from "@caas/shared/eventing/topics";
import { createLogger } from "@caas/shared/logger";
import { createSqliteEventBus } from "@caas/shared/eventing/sqlite";
import { systemClock } from "@caas/shared/clock";
import type { EventBus } from "@caas/shared/eventing/bus";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { startMediaDetach } from "../src/media-detach.js";
import type { RunningChatConsumer } from "../src/chat-consumer.js";
import type { MediaAttacher } from "../src/ports/media-attacher.js";

const logger = createLogger({ service: "chat-test", instance: "t", level: "silent" });
const T = "0190f000-0000-7000-8000-00000000000a";
const C = "0190f000-0000-7000-8000-00000000000c";
const M = ["0190f000-0000-7000-8000-0000000000a1", "0190f000-0000-7000-8000-0000000000a2", "0190f000-0000-7000-8000-0000000000a3"];

const record = (seq: number, payload: MessageInitShape<typeof EventSchema>["payload"]) => ({
  key: C,
  headers: {},
  value: create(ChatEventEnvelopeSchema, { tenantId: T, conversationId: C, payload: { case: "event", value: create(EventSchema, { conversationId: C, seq: BigInt(seq), payload }) } }),
});
const deleted = (seq: number, mediaIds: string[]) => record(seq, { case: "messageDeleted", value: { messageId: `m${seq}`, mediaIds } });

describe("chat's media-detach consumer (SQLite bus)", () => {
  let bus: EventBus | undefined;
  let running: RunningChatConsumer | undefined;
  afterEach(async () => {
    await running?.stop();
    await bus?.close();
  });

  it("detaches a deleted message's media, retries what media may get over, skips what it never will", async () => {
    bus = await createSqliteEventBus({ path: ":memory:", clock: systemClock, logger });
    const calls: string[] = [];
    let unavailable = 2;
    const media: MediaAttacher = {
      attach: async () => [],
      async detach(scope: TenantScope, conversationId: string, ids: readonly string[]) {
        calls.push(`${scope.tenantId}/${conversationId}:${ids.join(",")}`);
        if (ids[0] === M[0] && unavailable-- > 0) throw new ConnectError("media is down", Code.Unavailable);
        if (ids[0] === M[1]) throw new ConnectError("bad ids", Code.InvalidArgument);
      },
    };
    running = startMediaDetach({ bus, media, logger });
    await bus.publish(CHAT_EVENTS, [
      record(1, { case: "messageCreated", value: { message: { id: "m1", text: "hi" } } }),
      deleted(2, []), // a message without attachments: nothing to detach
      deleted(3, [M[0]!]),
      deleted(4, [M[1]!]),
      deleted(5, [M[2]!]),
    ]);
    await vi.waitFor(() => expect(calls.at(-1)).toBe(`${T}/${C}:${M[2]}`), { timeout: 10_000 });
    // Unavailable twice, then done; the refused one once and skipped; nothing for the other events.
    expect(calls).toEqual([`${T}/${C}:${M[0]}`, `${T}/${C}:${M[0]}`, `${T}/${C}:${M[0]}`, `${T}/${C}:${M[1]}`, `${T}/${C}:${M[2]}`]);
  });
});
