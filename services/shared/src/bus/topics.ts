import { AuthEventEnvelopeSchema } from "@caas/gen/caas/events/v1/auth_events_pb.js";
import { ChatEventEnvelopeSchema } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { UserStateEventEnvelopeSchema } from "@caas/gen/caas/events/v1/user_state_events_pb.js";
import { PlatformProbeEnvelopeSchema } from "@caas/gen/caas/events/v1/platform_events_pb.js";
import { MediaEventEnvelopeSchema } from "@caas/gen/caas/events/v1/media_events_pb.js";
import type { TopicSpec } from "./event-bus.js";

/** Conversation log entries, key = conversation id (proto/caas/events/v1/chat_events.proto). */
export const CHAT_EVENTS: TopicSpec<typeof ChatEventEnvelopeSchema> = {
  name: "caas.chat.events.v1",
  schema: ChatEventEnvelopeSchema,
};

/** Identity changes (revocations, suspensions), key = tenant id. */
export const AUTH_EVENTS: TopicSpec<typeof AuthEventEnvelopeSchema> = {
  name: "caas.auth.events.v1",
  schema: AuthEventEnvelopeSchema,
};

/** Per-user state (read and delivery markers, blocks), key = tenant/user. */
export const USER_STATE_EVENTS: TopicSpec<typeof UserStateEventEnvelopeSchema> = {
  name: "caas.chat.userstate.v1",
  schema: UserStateEventEnvelopeSchema,
};

/** Security-relevant media changes (deletions), key = tenant id (proto/caas/events/v1/media_events.proto). */
export const MEDIA_EVENTS: TopicSpec<typeof MediaEventEnvelopeSchema> = {
  name: "caas.media.events.v1",
  schema: MediaEventEnvelopeSchema,
};

export const ALL_TOPICS = [CHAT_EVENTS, AUTH_EVENTS, USER_STATE_EVENTS, MEDIA_EVENTS];

/** Operator probes of the bus (PlatformService.ProbeEventBus), key = probe id. */
export const PLATFORM_PROBES: TopicSpec<typeof PlatformProbeEnvelopeSchema> = {
  name: "caas.platform.probes.v1",
  schema: PlatformProbeEnvelopeSchema,
};
