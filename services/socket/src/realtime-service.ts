import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { RealtimeService, ConnectRequest, SendRequest, SubscribeRequest } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { ConnectResponseSchema, SendResponseSchema, SubscribeResponseSchema } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { ClientFrameSchema, type ClientFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { principalKey } from "@caas/shared/context";
import { isMemberOf, markThroughChat, peerError, sendThroughChat, type ChatClient } from "./chat-calls.js";
import { frameErrorAsConnectError, serverFrame } from "./frames.js";
import type { Session, SessionOptions } from "./session.js";
import { followPresence, pushPresence } from "./presence-following.js";
import type { SessionRegistry } from "./sessions.js";
import { StreamSink } from "./transports/stream-sink.js";
import { binaryCall, frameChunks, frameResponse } from "./transports/stream-frames.js";
import { rawStreamBodyKey } from "@caas/shared/server/raw-stream-body";
import type { Typist, TypingRelay } from "./typing.js";
import { searchThroughSearch, type SearchClient } from "./search-calls.js";

const BEARER = /^Bearer +(\S+)$/i;

/** Session options of the bidi Connect stream and of Subscribe, shared by every session of each (memory per connection). */
const BIDI_SESSION: SessionOptions = { clientHeartbeats: true, serverPongs: false };
const SUBSCRIBE_SESSION: SessionOptions = { clientHeartbeats: false, serverPongs: true };

/** The caller's access token, already verified by the principal interceptor; undefined when absent. */
function bearerToken(ctx: HandlerContext): string | undefined {
  const principal = ctx.values.get(principalKey);
  if (principal.kind === "anonymous") return undefined;
  if (principal.kind !== "user") throw new ConnectError("realtime streams are for end users", Code.PermissionDenied);
  return BEARER.exec(ctx.requestHeader.get("authorization") ?? "")?.[1];
}

/** The verified user calling (bearerToken already refused everyone else). */
function userOf(ctx: HandlerContext): Typist {
  const principal = ctx.values.get(principalKey);
  if (principal.kind !== "user") throw new ConnectError("realtime calls are for end users", Code.PermissionDenied);
  return { tenantId: principal.tenantId, userId: principal.userId };
}

/**
 * The stream's responses: the sink's frames in order until it ends. On a binary call (gRPC,
 * gRPC-web, Connect with protobuf) the first goes through connect (which then sends the
 * response headers) and every later one is written to the response body as an already-enveloped
 * message (RawStreamBody), each batch waiting at the reader's turn in one chunk, so one write per
 * stream per flush, with a pushed event's bytes built once for every stream. The sink's backlog
 * bounds what waits for a slow reader, as before (congested()).
 */
async function* deliver<S extends typeof SubscribeResponseSchema | typeof ConnectResponseSchema>(sink: StreamSink, schema: S, ctx: HandlerContext) {
  const binary = binaryCall(ctx.requestHeader.get("content-type"));
  const raw = binary ? ctx.values.get(rawStreamBodyKey) : undefined;
  if (!raw) {
    for await (const frame of sink.frames(ctx.signal)) yield frameResponse(schema, frame, binary);
    return;
  }
  const first = await sink.first(ctx.signal);
  if (!first) return;
  raw.attach(frameChunks(sink.batches(ctx.signal)));
  yield frameResponse(schema, first, true);
}

/**
 * RealtimeService over gRPC transports: Connect (bidi, the WebSocket protocol frame for frame),
 * Subscribe (server stream; AuthOk first, its connection id ties Send calls to it) and Send
 * (unary: send, typing, mark_read/mark_delivered and ping for anyone with a token; reauth, resume
 * and subscribe_presence on one of the caller's Subscribe streams).
 */
export class RealtimeServiceImpl implements ServiceImpl<typeof RealtimeService> {
  constructor(
    private readonly registry: SessionRegistry,
    private readonly chat: ChatClient,
    private readonly maxBacklog: number,
    private readonly bounds: { maxFrameBytes: number } = { maxFrameBytes: Number.MAX_SAFE_INTEGER },
    private readonly typing?: TypingRelay,
    private readonly search?: SearchClient,
  ) {}

  /** The encoded size of `frame` when it exceeds max_frame_bytes (gRPC transports), else undefined. */
  private oversize(frame: ClientFrame): number | undefined {
    const bytes = toBinary(ClientFrameSchema, frame).byteLength;
    return bytes > this.bounds.maxFrameBytes ? bytes : undefined;
  }

  async *connect(requests: AsyncIterable<ConnectRequest>, ctx: HandlerContext) {
    const sink = new StreamSink(this.maxBacklog);
    const session = this.registry.open(sink, BIDI_SESSION);
    const token = bearerToken(ctx);
    if (token) void session.authenticate(token, 0n);
    const pump = (async () => {
      for await (const req of requests) {
        if (!req.frame) session.protocolError(0n, "ConnectRequest.frame is required");
        else {
          const big = this.oversize(req.frame);
          if (big === undefined) session.receive(req.frame);
          else session.frameTooLarge(big);
        }
      }
    })();
    // A request message that fails the protovalidate rules ends the request stream (the
    // validation interceptor throws from it): say why and close, rather than leave a deaf stream.
    pump.catch((err: unknown) => {
      if (ctx.signal.aborted) session.detach();
      else session.protocolError(0n, `a ClientFrame was refused and the request stream ended: ${ConnectError.from(err).rawMessage}`);
    });
    try {
      yield* deliver(sink, ConnectResponseSchema, ctx);
    } finally {
      session.detach();
    }
  }

  async *subscribe(req: SubscribeRequest, ctx: HandlerContext) {
    const token = bearerToken(ctx);
    if (!token) throw new ConnectError("Subscribe needs an Authorization: Bearer <access token> header", Code.Unauthenticated);
    const sink = new StreamSink(this.maxBacklog);
    const session = this.registry.open(sink, SUBSCRIBE_SESSION);
    session.restrictTo(req.conversationIds);
    try {
      const opened = await session.authenticate(token, 0n);
      if (opened && req.resume) void session.resume(0n, req.resume);
      yield* deliver(sink, SubscribeResponseSchema, ctx);
    } finally {
      session.detach();
    }
  }

  async send(req: SendRequest, ctx: HandlerContext) {
    const token = bearerToken(ctx);
    if (!token) throw new ConnectError("Send needs an Authorization: Bearer <access token> header", Code.Unauthenticated);
    const frame = req.frame!;
    const big = this.oversize(frame);
    if (big !== undefined) throw new ConnectError(`a frame of ${big} bytes exceeds max_frame_bytes (${this.bounds.maxFrameBytes})`, Code.ResourceExhausted);
    const f = frame.frame;
    switch (f.case) {
      case "auth":
        throw new ConnectError("Send does not take auth frames: authenticate with the Authorization header", Code.InvalidArgument);
      case "send": {
        // Chat counts the send (ADR 0023); its refusal, RetryInfo included, is this call's answer.
        const reply = await sendThroughChat(this.chat, token, frame.id, f.value, ctx.signal).catch((err: unknown) => Promise.reject(peerError(err)));
        return create(SendResponseSchema, { frame: reply });
      }
      case "markRead":
      case "markDelivered": {
        const reply = await markThroughChat(this.chat, token, frame.id, f.case === "markRead" ? "read" : "delivered", f.value).catch((err: unknown) => Promise.reject(peerError(err)));
        return create(SendResponseSchema, { frame: reply });
      }
      case "ping":
        return create(SendResponseSchema, { frame: serverFrame(frame.id, { case: "pong", value: { nonce: f.value.nonce } }) });
      case "searchMessages":
      case "searchConversations":
      case "searchUsers": {
        if (!this.search) throw new ConnectError("search is not served by this socket instance", Code.Unavailable);
        // The search service counts it in the caller's `search` bucket; its refusal is this call's answer.
        const reply = await searchThroughSearch(this.search, token, frame.id, f).catch((err: unknown) => Promise.reject(peerError(err)));
        return create(SendResponseSchema, { frame: reply });
      }
      case "resume": {
        void this.ownSession(req.connectionId, ctx).resume(frame.id, f.value);
        return create(SendResponseSchema, { frame: serverFrame(frame.id, { case: "ack", value: {} }) });
      }
      case "reauth": {
        const reply = await this.ownSession(req.connectionId, ctx).reauth(0n, f.value.accessToken);
        if (reply.frame.case === "error") throw new ConnectError(reply.frame.value.message, reply.frame.value.code);
        reply.replyTo = frame.id;
        return create(SendResponseSchema, { frame: reply });
      }
      case "typing": {
        if (!this.typing) throw new ConnectError("typing indicators are not served by this socket instance", Code.Unavailable);
        // No local session need exist (Send may reach another instance than the Subscribe
        // stream): chat, with the user's own token, says whether the caller is a member.
        const who = userOf(ctx);
        const reply = await this.typing.set(who, frame.id, f.value, (conversationId) => isMemberOf(this.chat, token, conversationId));
        if (reply.frame.case === "error") throw frameErrorAsConnectError(reply.frame.value);
        return create(SendResponseSchema, { frame: reply });
      }
      case "subscribePresence": {
        // Followed users' Presence frames are pushed on the Subscribe stream named by connection_id.
        const session = this.ownSession(req.connectionId, ctx);
        const now = await followPresence(this.registry.following, session, f.value.userIds).catch((err: unknown) => Promise.reject(peerError(err)));
        if (now === undefined) throw new ConnectError("presence is not served by this socket instance", Code.Unavailable);
        pushPresence(session, now);
        return create(SendResponseSchema, { frame: serverFrame(frame.id, { case: "ack", value: {} }) });
      }
      default:
        throw new ConnectError("unknown client frame case", Code.Unimplemented);
    }
  }

  /** The open Subscribe stream `connectionId` of the caller's own session; NOT_FOUND otherwise. */
  private ownSession(connectionId: string, ctx: HandlerContext): Session {
    const principal = ctx.values.get(principalKey);
    const session = this.registry.get(connectionId);
    const who = session?.who;
    if (!session || !who || principal.kind !== "user" || who.tenantId !== principal.tenantId || who.sessionId !== principal.sessionId) {
      throw new ConnectError("connection_id is not an open Subscribe stream of this session", Code.NotFound);
    }
    return session;
  }
}
