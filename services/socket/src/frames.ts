import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { CloseCode, ServerFrameSchema, type FrameError, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { FieldPathElementSchema, FieldPathSchema, ViolationSchema, ViolationsSchema, type Violations } from "@caas/gen/buf/validate/validate_pb.js";
import { BadRequestSchema, RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { ResourceExhaustedError, toConnectError } from "@caas/shared/errors";

/** The server frame payload cases, as protobuf-es writes them. */
export type ServerFrameCase = NonNullable<MessageInitShape<typeof ServerFrameSchema>["frame"]>;

/** A server frame answering client frame `replyTo` (0 for pushed frames). */
export function serverFrame(replyTo: bigint, frame: ServerFrameCase): ServerFrame {
  return create(ServerFrameSchema, { replyTo, frame });
}

/**
 * The FrameError for any failure: domain errors and peer ConnectErrors keep their gRPC code and
 * message (the same meaning as for the matching ChatService RPC), their retry delay and field
 * violations (buf.validate details, and google.rpc.BadRequest fields as one-element paths);
 * anything else is INTERNAL.
 */
export function errorFrame(replyTo: bigint, err: unknown): ServerFrame {
  const ce = err instanceof ConnectError ? err : toConnectError(err);
  const retryAfter = ce.findDetails(RetryInfoSchema)[0]?.retryDelay;
  const violations = violationsOf(ce);
  return serverFrame(replyTo, { case: "error", value: { code: ce.code, message: ce.rawMessage, retryAfter, ...(violations ? { violations } : {}) } });
}

/** The field violations an error carries, as FrameError.violations; undefined when none. */
function violationsOf(ce: ConnectError): Violations | undefined {
  const list = ce.findDetails(ViolationsSchema).flatMap((v) => v.violations);
  for (const b of ce.findDetails(BadRequestSchema)) {
    for (const f of b.fieldViolations) {
      const elements = f.field.split(".").map((fieldName) => create(FieldPathElementSchema, { fieldName }));
      list.push(create(ViolationSchema, { field: create(FieldPathSchema, { elements }), message: f.description }));
    }
  }
  return list.length > 0 ? create(ViolationsSchema, { violations: list }) : undefined;
}

/** A RESOURCE_EXHAUSTED FrameError telling the client to wait `retryAfterMs` before retrying. */
export function exhausted(replyTo: bigint, message: string, retryAfterMs: number): ServerFrame {
  return serverFrame(replyTo, { case: "error", value: { code: Code.ResourceExhausted, message, retryAfter: durationFromMs(Math.max(1, Math.ceil(retryAfterMs))) } });
}

/** A FrameError with an explicit code and message. */
export function failure(replyTo: bigint, code: Code, message: string): ServerFrame {
  return serverFrame(replyTo, { case: "error", value: { code, message } });
}

/** Client frame cases a transport or configuration does not serve yet (typing and presence on Send, or without their relay). */
/**
 * A FrameError as the error of a unary Send: the same code and message, with RESOURCE_EXHAUSTED's
 * retry_after as google.rpc.RetryInfo (what every other path answers with).
 */
export function frameErrorAsConnectError(e: FrameError): Error {
  const code: Code = e.code;
  if (code === Code.ResourceExhausted && e.retryAfter) return new ResourceExhaustedError(e.message, Math.ceil(durationMs(e.retryAfter)));
  return new ConnectError(e.message, code);
}

/** The Closing frame the server sends last; retry_after is set where frame.proto asks for it. */
export function closingFrame(code: CloseCode, reason: string, retryAfterMs?: number): ServerFrame {
  return serverFrame(0n, {
    case: "closing",
    value: { code, reason, retryAfter: retryAfterMs === undefined ? undefined : durationFromMs(retryAfterMs) },
  });
}

/** WebSocket close status for a CloseCode (frame.proto: 4000 + code). */
export function wsCloseStatus(code: CloseCode): number {
  return 4000 + code;
}

/** Close reasons the server gives, kept short: a WebSocket close reason holds at most 123 bytes. */
export function shortReason(reason: string): string {
  const buf = Buffer.from(reason, "utf8");
  return buf.length <= 123 ? reason : buf.subarray(0, 120).toString("utf8");
}

/**
 * The pushed frame of a live event, made once per event: the hub hands the same Event object to
 * every recipient session and the frame (reply_to 0) is the same for all of them; frames are
 * never mutated after they are queued.
 */
const eventFrames = new WeakMap<Event, ServerFrame>();
/** The last event asked for: the hub hands one event to every recipient in a row, so most lookups are this pointer compare. */
let lastEvent: Event | undefined;
let lastFrame: ServerFrame | undefined;
export function eventFrame(event: Event): ServerFrame {
  if (event === lastEvent) return lastFrame!;
  let frame = eventFrames.get(event);
  if (!frame) {
    frame = serverFrame(0n, { case: "event", value: event });
    eventFrames.set(event, frame);
  }
  lastEvent = event;
  lastFrame = frame;
  return frame;
}
