import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { ClientFrameSchema } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { MessageFuzzer, type Rng } from "./proto-cases.js";
import { wsFrame } from "./ws-raw.js";

/** The kinds of hostile WebSocket input the frame fuzzer sends. */
export const WS_CASE_KINDS = [
  "random-bytes",
  "fuzzed-protobuf",
  "garbage-binary",
  "text-frame",
  "fragmented-valid",
  "broken-fragmentation",
  "oversized-declared",
  "oversized-sent",
  "unmasked",
  "reserved-bits",
  "big-control",
  "ping-burst",
  "ping-flood",
  "frame-before-auth",
  "close-frame",
] as const;
export type WsCaseKind = (typeof WS_CASE_KINDS)[number];

/** One case: the bytes to write after the handshake (and optional auth), and whether a reply must come back. */
export interface WsCase {
  kind: WsCaseKind;
  /** Authenticate first (an Auth frame, AuthOk awaited), so the input reaches an open session. */
  authFirst: boolean;
  bytes: Buffer;
  /** The input is valid: the server must answer it (a Pong, or AuthOk) and keep the connection. */
  expectReply: boolean;
}

const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_BIN = 0x2;
const OP_PING = 0x9;

let nextId = 1000n;
/** A ClientFrame's bytes. */
export function clientFrame(frame: MessageInitShape<typeof ClientFrameSchema>["frame"]): Buffer {
  return Buffer.from(toBinary(ClientFrameSchema, create(ClientFrameSchema, { id: nextId++, frame })));
}

/** Builds seeded hostile WebSocket input; `maxFrameBytes` is AuthOk.max_frame_bytes. */
export class WsCaseBuilder {
  private readonly proto: MessageFuzzer;

  constructor(
    private readonly r: Rng,
    private readonly token: string,
    private readonly maxFrameBytes: number,
  ) {
    this.proto = new MessageFuzzer(r);
  }

  build(): WsCase {
    const r = this.r;
    const kind = WS_CASE_KINDS[r.int(WS_CASE_KINDS.length)]!;
    const authFirst = kind === "frame-before-auth" ? false : r.chance(0.5);
    const ping = clientFrame({ case: "ping", value: { nonce: BigInt(r.int(1_000_000)) } });
    // A valid frame the server answers: Auth on a new connection, Ping on an authenticated one.
    const valid = authFirst ? ping : clientFrame({ case: "auth", value: { accessToken: this.token } });
    const c = (bytes: Buffer, expectReply = false): WsCase => ({ kind, authFirst, bytes, expectReply });
    switch (kind) {
      case "random-bytes":
        return c(Buffer.from(r.bytes(1 + r.int(2048))));
      case "fuzzed-protobuf":
        return c(wsFrame(OP_BIN, Buffer.from(this.proto.build(ClientFrameSchema).bytes)));
      case "garbage-binary":
        return c(wsFrame(OP_BIN, Buffer.from(r.bytes(r.int(4096)))));
      case "text-frame":
        return c(wsFrame(OP_TEXT, r.chance(0.5) ? Buffer.from('{"auth":{}}') : Buffer.from([0xc3, 0x28, 0xff])));
      case "fragmented-valid":
        return c(fragments(r, valid), true);
      case "broken-fragmentation":
        return c(brokenFragments(r, valid));
      case "oversized-declared":
        // A header announcing far more than the server reads (ws's maxPayload): refused from the header alone.
        return c(wsFrame(OP_BIN, Buffer.from(r.bytes(64)), { declaredLength: 2 ** (22 + r.int(20)) }));
      case "oversized-sent":
        return c(wsFrame(OP_BIN, Buffer.alloc(this.maxFrameBytes + 1 + r.int(this.maxFrameBytes), 0x0a)));
      case "unmasked":
        return c(wsFrame(OP_BIN, valid, { masked: false }));
      case "reserved-bits":
        return c(r.chance(0.5) ? wsFrame(OP_BIN, valid, { rsv: 1 + r.int(7) }) : wsFrame([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf][r.int(10)]!, valid));
      case "big-control":
        return c(r.chance(0.5) ? wsFrame(OP_PING, Buffer.alloc(126 + r.int(1000))) : wsFrame(OP_PING, Buffer.alloc(10), { fin: false }));
      case "ping-burst":
        // Fewer pings than ws lets wait for their pongs (60): all answered, then the frame.
        return c(Buffer.concat([...Array.from({ length: 1 + r.int(50) }, () => wsFrame(OP_PING, Buffer.from(r.bytes(r.int(126))))), wsFrame(OP_BIN, valid)]), true);
      case "ping-flood":
        // More than 60 pongs waiting at once: ws terminates the connection (maxPendingAutoPongs).
        return c(Buffer.concat([...Array.from({ length: 200 + r.int(800) }, () => wsFrame(OP_PING, Buffer.from(r.bytes(r.int(126))))), wsFrame(OP_BIN, valid)]));
      case "frame-before-auth":
        return c(wsFrame(OP_BIN, r.chance(0.5) ? ping : clientFrame({ case: "send", value: { conversationId: "c1", clientMessageId: "m1", text: "hi" } })));
      case "close-frame": {
        const payload = Buffer.alloc(2);
        payload.writeUInt16BE([1000, 1001, 1002, 1005, 999, 4000, 5000, 65535][r.int(8)]!);
        return c(wsFrame(0x8, payload));
      }
    }
  }
}

/** `payload` as one binary message in 2-6 fragments, with pings interleaved (allowed by RFC 6455 5.4). */
function fragments(r: Rng, payload: Buffer): Buffer {
  const parts = 2 + r.int(5);
  const out: Buffer[] = [];
  const step = Math.ceil(payload.length / parts);
  for (let i = 0, off = 0; i < parts; i++, off += step) {
    const last = i === parts - 1;
    out.push(wsFrame(i === 0 ? OP_BIN : OP_CONT, payload.subarray(off, last ? payload.length : off + step), { fin: last }));
    if (!last && r.chance(0.3)) out.push(wsFrame(OP_PING, Buffer.from("x")));
  }
  return Buffer.concat(out);
}

/** Fragmentation RFC 6455 forbids: a continuation with nothing to continue, or a new message inside a fragmented one. */
function brokenFragments(r: Rng, payload: Buffer): Buffer {
  if (r.chance(0.5)) return wsFrame(OP_CONT, payload);
  return Buffer.concat([wsFrame(OP_BIN, payload.subarray(0, 1), { fin: false }), wsFrame(OP_BIN, payload)]);
}
