import { create, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { ServerFrameSchema, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";

/** A response message of the realtime streams: `ServerFrame frame = 1` and nothing else (SubscribeResponse, ConnectResponse). */
type FrameResponseSchema = DescMessage & { typeName: "caas.realtime.v1.SubscribeResponse" | "caas.realtime.v1.ConnectResponse" };

/**
 * Field 1 (`frame`) of a pushed event's response, length prefix and encoded ServerFrame, by the
 * event it carries. The hub hands one Event object to every recipient session and the frame
 * (reply_to 0) is the same for all of them, so a fan-out to N streams encodes once, not N times
 * (the WebSocket path does the same, websocket.ts). Events are never mutated after dispatch.
 */
const pushedFields = new WeakMap<object, Uint8Array>();
/** The last pushed frame encoded: a flush writes one event's frame to many streams in a row, so most lookups are this pointer compare. */
let lastPushed: ServerFrame | undefined;
let lastField: Uint8Array | undefined;

/** `frame` as the bytes of a length-delimited field's value (varint length, then the encoded frame); a pushed event's are built once per event. */
export function frameField(frame: ServerFrame): Uint8Array {
  if (frame === lastPushed) return lastField!;
  if (frame.replyTo !== 0n || frame.frame.case !== "event") return new BinaryWriter().bytes(toBinary(ServerFrameSchema, frame)).finish();
  let field = pushedFields.get(frame.frame.value);
  if (!field) {
    field = new BinaryWriter().bytes(toBinary(ServerFrameSchema, frame)).finish();
    pushedFields.set(frame.frame.value, field);
  }
  lastPushed = frame;
  lastField = field;
  return field;
}

/**
 * A stream response carrying `frame`. For a binary protocol (gRPC, gRPC-web, Connect with
 * protobuf) the frame goes as the already-encoded field 1, an unknown field of the otherwise
 * empty message: protobuf-es writes unknown fields back verbatim, so the serialized response is
 * byte for byte what encoding `{ frame }` gives, without encoding a shared event once per
 * recipient. A JSON client's response carries the frame itself (JSON cannot hold unknown fields).
 */
export function frameResponse<S extends FrameResponseSchema>(schema: S, frame: ServerFrame, binary: boolean): MessageShape<S> {
  if (!binary) return create(schema, { frame } as never);
  const out = create(schema);
  out.$unknown = [{ no: 1, wireType: WireType.LengthDelimited, data: frameField(frame) }];
  return out;
}

/** Pushed events' responses as whole envelopes (tag of field 1, then frameField), by the event they carry; see pushedFields. */
const pushedEnvelopes = new WeakMap<object, Buffer>();
let lastEnveloped: ServerFrame | undefined;
let lastEnvelope: Buffer | undefined;

/**
 * The response carrying `frame` (SubscribeResponse and ConnectResponse alike: field 1 and nothing
 * else) as one enveloped stream message of the binary protocols, ready to write to the response
 * body (RawStreamBody); a pushed event's is built once per event and shared by every stream.
 */
export function frameEnvelope(frame: ServerFrame): Buffer {
  if (frame === lastEnveloped) return lastEnvelope!;
  const pushed = frame.replyTo === 0n && frame.frame.case === "event" ? frame.frame.value : undefined;
  let out = pushed && pushedEnvelopes.get(pushed);
  if (!out) {
    const field = frameField(frame);
    out = Buffer.allocUnsafe(6 + field.byteLength);
    out[0] = 0;
    out.writeUInt32BE(1 + field.byteLength, 1);
    out[5] = FRAME_TAG;
    out.set(field, 6);
    if (pushed) pushedEnvelopes.set(pushed, out);
  }
  if (pushed) {
    lastEnveloped = frame;
    lastEnvelope = out;
  }
  return out;
}

/** Batches of frames as response body bytes: one chunk per batch (one write), a batch's envelopes back to back. */
export async function* frameChunks(batches: AsyncIterable<ServerFrame[]>): AsyncGenerator<Uint8Array> {
  for await (const batch of batches) yield batchChunk(batch);
}

/** The envelopes of the last batch of several frames joined, and the chunk joining them. */
let lastJoined: Buffer[] = [];
let lastChunk: Buffer | undefined;

/**
 * A batch's envelopes in one buffer. A fan-out's flush hands the same pushed events to many
 * streams in a row, and their envelopes are shared (frameEnvelope), so a batch made of the same
 * envelopes as the last one takes the same chunk, joined once rather than once per stream (in
 * a profile of a 1 x 1000 fan-out the joining was the largest single cost of ours). Replies are
 * enveloped afresh every time, so they never match.
 */
export function batchChunk(batch: ServerFrame[]): Buffer {
  if (batch.length === 1) return frameEnvelope(batch[0]!);
  const envelopes = batch.map(frameEnvelope);
  if (lastChunk && envelopes.length === lastJoined.length && envelopes.every((e, i) => e === lastJoined[i])) return lastChunk;
  lastJoined = envelopes;
  lastChunk = Buffer.concat(envelopes);
  return lastChunk;
}

/** The tag of field 1 (`frame`), length-delimited. */
const FRAME_TAG = (1 << 3) | WireType.LengthDelimited;

/** Whether the call's messages travel in the protobuf binary format (every protocol but the JSON ones). */
export function binaryCall(contentType: string | null): boolean {
  return !/json/i.test(contentType ?? "");
}
