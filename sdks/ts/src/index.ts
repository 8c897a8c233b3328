// The platform-neutral part of the SDK; browser.ts and node.ts add the transports.
export { createCaasClientWith, type CaasClient, type CaasClientOptions, type PlatformAdapters } from "./client.js";
export { CaasError, Code, codeName, isRetryable, type FieldViolation } from "./errors.js";
export { TokenKeeper, createAuthInterceptor, jwtExpiry, type TokenOptions } from "./tokens.js";
export { RealtimeSession, type ConnectionState, type CursorStore, type RealtimeEvents, type RealtimeOptions, type SendInput } from "./realtime/session.js";
export { memoryOutboxStore, type OutboxStore, type QueuedSend } from "./realtime/outbox.js";
export { Sequencer, MAX_POSITIONS, type Position, type SyncPage } from "./realtime/sequencer.js";
export { backoffDelay, type BackoffOptions } from "./realtime/backoff.js";
export type { WebSocketFactory, WebSocketLike } from "./realtime/socket.js";
export type { Event } from "./gen/caas/chat/v1/event_pb.js";
export type { Message } from "./gen/caas/chat/v1/message_pb.js";
export type { Conversation, ConversationView } from "./gen/caas/chat/v1/conversation_pb.js";
export { ConversationType } from "./gen/caas/chat/v1/conversation_pb.js";
export type { ReadState, Receipt } from "./gen/caas/chat/v1/read_state_pb.js";
export type { SessionTokens } from "./gen/caas/auth/v1/token_pb.js";
export type { AuthOk, SendAck, Typing, Presence, BlockChanged } from "./gen/caas/realtime/v1/frame_pb.js";
export { CloseCode, PresenceStatus } from "./gen/caas/realtime/v1/frame_pb.js";
