import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { wrapHandler } from "./handler-wrap.js";

/** gRPC-web's text mode: the binary gRPC-web body, base64-encoded (Google's grpc-web client's default). */
const TEXT_CONTENT_TYPE = /^application\/grpc-web-text(\+proto)?$/i;

/**
 * Serves `application/grpc-web-text` on a connect-es method handler, which refuses it (415):
 * the request body is base64-decoded and handed to the handler as `application/grpc-web+proto`,
 * and the response body (messages and the trailer frame) is base64-encoded back, chunk by chunk,
 * as `application/grpc-web-text+proto`. Each written chunk (a message or the trailer) is padded
 * base64 of its own, as the gRPC-web protocol has it (PROTOCOL-WEB.md: messages are encoded and
 * flushed atomically; clients accept padding anywhere), so server streams are not buffered.
 * Other content types pass through untouched.
 */
export function withGrpcWebText(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    const contentType = req.header.get("content-type");
    if (!contentType || !TEXT_CONTENT_TYPE.test(contentType) || !isByteStream(req.body)) return handler(req);
    const header = new Headers(req.header);
    header.set("content-type", "application/grpc-web+proto");
    // The base64 body is a third longer than the bytes it carries; the handler's readMaxBytes
    // applies to the decoded bytes.
    header.delete("content-length");
    const res = await handler({ ...req, header, body: base64Decode(req.body) });
    const out = new Headers(res.header);
    if (out.get("content-type")?.startsWith("application/grpc-web")) out.set("content-type", "application/grpc-web-text+proto");
    out.delete("content-length");
    return { ...res, header: out, body: res.body ? base64Encode(res.body) : undefined };
  };
  return wrapHandler(handler, wrapped);
}

function isByteStream(body: unknown): body is AsyncIterable<Uint8Array> {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body;
}

/**
 * Decodes a base64 stream whose chunks may split a 4-character group and may each carry their
 * own padding (a client may send several padded segments). Whitespace is ignored. Anything but
 * base64 is an error the handler reports as a malformed request.
 */
async function* base64Decode(chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  let pending = "";
  for await (const chunk of chunks) {
    pending += Buffer.from(chunk).toString("latin1").replace(/\s+/g, "");
    const whole = pending.length - (pending.length % 4);
    if (whole === 0) continue;
    const out = decodeGroups(pending.slice(0, whole));
    pending = pending.slice(whole);
    if (out.length > 0) yield out;
  }
  if (pending.length > 0) throw new ConnectError("grpc-web-text body is not base64: it ends inside a 4-character group", Code.InvalidArgument);
}

/** Decodes whole 4-character groups, each padded run on its own (Node's decoder stops at the first "="). */
function decodeGroups(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/=]*$/.test(text)) throw new ConnectError("grpc-web-text body is not base64", Code.InvalidArgument);
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i += 4) {
    if (text[i + 3] === "=") {
      parts.push(Buffer.from(text.slice(start, i + 4), "base64"));
      start = i + 4;
    }
  }
  if (start < text.length) parts.push(Buffer.from(text.slice(start), "base64"));
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

async function* base64Encode(chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  for await (const chunk of chunks) yield Buffer.from(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("base64"), "latin1");
}
