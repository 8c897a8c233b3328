import { create } from "@bufbuild/protobuf";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { MessageSchema, type Message } from "@caas/gen/caas/chat/v1/message_pb.js";
import type { LogEvent } from "@caas/shared/eventing/log";

/** The message a MessageCreated event carries (a tombstone when redacted); undefined for other events. */
export function messageOf(log: LogEvent, event: Event): Message | undefined {
  if (event.payload.case !== "messageCreated" || !event.payload.value.message) return undefined;
  const m = event.payload.value.message;
  if (!log.redacted) return m;
  return create(MessageSchema, { ...m, text: "", mentionedUserIds: [], custom: undefined, encrypted: undefined, attachments: [], deleted: true });
}
