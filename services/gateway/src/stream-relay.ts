import { create, fromBinary, toBinary, type DescMessage, type DescService, type Message } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";

/**
 * `service` as the gateway's client of the owner sees it: the responses of its server- and
 * bidi-streaming methods are read as google.protobuf.Empty, a message without fields, so the
 * client's parser keeps every field of a response as an unknown field (its tag and the bytes
 * that follow, a view of the received buffer) instead of decoding it. Requests and unary
 * responses are unchanged.
 */
export function opaqueStreamResponses<T extends DescService>(service: T): T {
  const methods = service.methods.map((m) => (m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming" ? { ...m, output: EmptySchema } : m));
  const method = Object.fromEntries(methods.map((m) => [m.localName, m]));
  return { ...service, methods, method };
}

/**
 * An owner's stream response read opaquely (opaqueStreamResponses) as the gateway's response of
 * type `schema`. For a binary protocol (gRPC, gRPC-web, Connect with protobuf) the fields go on as
 * unknown fields of an empty `schema` message, which protobuf-es writes back verbatim: the
 * caller receives the bytes the owner sent, without the gateway decoding and re-encoding every
 * message. A JSON caller's response is decoded from those bytes (JSON needs the fields).
 */
export function relayedResponse(schema: DescMessage, opaque: Message, binary: boolean): Message {
  if (!binary) return fromBinary(schema, toBinary(EmptySchema, opaque as never));
  const out = create(schema) as Message;
  if (opaque.$unknown) out.$unknown = opaque.$unknown;
  return out;
}

/** Whether the caller's messages travel in the protobuf binary format (every protocol but the JSON ones). */
export function binaryCall(contentType: string | null): boolean {
  return !/json/i.test(contentType ?? "");
}
