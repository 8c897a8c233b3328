import type { DescMessage } from "@bufbuild/protobuf";
import type { ChatEventEnvelope } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import type { BusRecord, EventBus } from "../bus/event-bus.js";
import { CHAT_EVENTS } from "../bus/topics.js";
import { openEnvelope, type DataKeySource } from "./chat-event-sealing.js";

/**
 * The bus as a consumer of sealed chat events sees it: records of `caas.chat.events.v1` reach
 * handlers opened (ADR 0120), once per record and consumer group, before any fan-out; every
 * other topic and `publish` pass through. A record that cannot be opened for a passing reason
 * (chat unreachable for the key) throws, so the bus retries it and nothing is skipped.
 */
export function openingChatEvents(bus: EventBus, keys: DataKeySource): EventBus {
  const opened = async <Desc extends DescMessage>(topic: { name: string }, r: BusRecord<Desc>): Promise<BusRecord<Desc>> =>
    topic.name === CHAT_EVENTS.name ? { ...r, value: (await openEnvelope(keys, r.value as unknown as ChatEventEnvelope)) as unknown as BusRecord<Desc>["value"] } : r;
  return {
    publish: (topic, records) => bus.publish(topic, records),
    subscribe: (topic, opts, handler) => bus.subscribe(topic, opts, async (r) => handler(await opened(topic, r))),
    subscribeBatches: (topic, opts, handler) => bus.subscribeBatches(topic, opts, async (b) => handler({ ...b, records: await Promise.all(b.records.map((r) => opened(topic, r))) })),
    close: () => bus.close(),
  };
}
