import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  CloseCode,
  ServerFrameSchema,
  type ClientFrame,
  type ServerFrame,
} from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { toConnectError } from "@caas/shared";

/** The server frame payload cases, as protobuf-es writes them. */
export type ServerFrameCase = NonNullable<MessageInitShape<typeof ServerFrameSchema>["frame"]>;

/** A server frame answering client frame `replyTo` (0 for pushed frames). */
export function serverFrame(replyTo: bigint, frame: ServerFrameCase): ServerFrame {
  return create(ServerFrameSchema, { replyTo, frame });
}

/**
 * The FrameError for any failure: domain errors and peer ConnectErrors keep their gRPC code and
 * message (the same meaning as for the matching ChatService RPC), anything else is INTERNAL.
 */
export function errorFrame(replyTo: bigint, err: unknown): ServerFrame {
  const ce = err instanceof ConnectError ? err : toConnectError(err);
  const retryAfter = ce.findDetails(RetryInfoSchema)[0]?.retryDelay;
  return serverFrame(replyTo, { case: "error", value: { code: ce.code, message: ce.rawMessage, retryAfter } });
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
const STAGE_B = new Set<ClientFrame["frame"]["case"]>(["typing", "subscribePresence"]);

/** True for the client frame cases answered with UNIMPLEMENTED until issue #7 stage B. */
export function isStageB(kind: ClientFrame["frame"]["case"]): boolean {
  return STAGE_B.has(kind);
}

/** The UNIMPLEMENTED answer for a stage-B frame. */
export function stageBFrame(replyTo: bigint, kind: string): ServerFrame {
  return failure(replyTo, Code.Unimplemented, `${kind} frames are not built yet (issue #7 stage B)`);
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
