import { randomBytes } from "node:crypto";
import net from "node:net";

/** How a raw WebSocket connection ended, or that it is still open. */
export interface WsOutcome {
  /** The status code of the server's close frame, when one arrived. */
  closeCode?: number;
  /** The TCP connection ended (with or without a close frame). */
  ended: boolean;
  /** Binary messages the server sent (unfragmented; the server never fragments). */
  messages: Buffer[];
  /** The upgrade was answered with something other than 101. */
  refused?: string;
}

/**
 * A WebSocket client on a bare TCP socket: it performs the RFC 6455 handshake and then writes
 * whatever bytes it is given, so frames a conforming library refuses to build (unmasked, reserved
 * bits, oversized control frames, broken fragmentation) can be sent. It parses the server's frames.
 */
export class RawWs {
  readonly outcome: WsOutcome = { ended: false, messages: [] };
  private buf = Buffer.alloc(0);
  private upgraded = false;
  private waiters: (() => void)[] = [];

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (c: Buffer) => this.onData(c));
    socket.on("error", () => {});
    socket.on("close", () => {
      this.outcome.ended = true;
      this.wake();
    });
  }

  /** Connects to `/ws` at `baseUrl` and completes the handshake (or records the refusal). */
  static async open(baseUrl: string): Promise<RawWs> {
    const u = new URL(baseUrl);
    const socket = net.connect(Number(u.port), u.hostname);
    const ws = new RawWs(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const key = randomBytes(16).toString("base64");
    socket.write(`GET /ws HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await ws.until(() => ws.upgraded || ws.outcome.refused !== undefined || ws.outcome.ended, 5_000);
    return ws;
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Waits until `pred` holds or `ms` pass; true when it holds. */
  async until(pred: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private onData(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (!this.upgraded) {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString("latin1");
      this.buf = this.buf.subarray(end + 4);
      if (!head.startsWith("HTTP/1.1 101")) this.outcome.refused = head.split("\r\n")[0];
      else this.upgraded = true;
    }
    this.parseFrames();
    this.wake();
  }

  private parseFrames(): void {
    for (;;) {
      if (this.buf.length < 2) return;
      const opcode = this.buf[0]! & 0x0f;
      let len = this.buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      if (opcode === 0x8) this.outcome.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      else if (opcode === 0x2) this.outcome.messages.push(Buffer.from(payload));
    }
  }
}

/**
 * One client frame: FIN flag, opcode, payload, masked unless `masked` is false; `declaredLength`
 * lies about the payload's length (the bytes sent are still `payload`); `rsv` sets reserved bits.
 */
export function wsFrame(opcode: number, payload: Buffer, opts: { fin?: boolean; masked?: boolean; declaredLength?: number; rsv?: number } = {}): Buffer {
  const fin = opts.fin ?? true;
  const masked = opts.masked ?? true;
  const n = opts.declaredLength ?? payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | (opcode & 0x0f)];
  const maskBit = masked ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (n < 126) head.push(maskBit | n);
  else if (n < 65_536) {
    head.push(maskBit | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(n);
  } else {
    head.push(maskBit | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(BigInt(n));
  }
  if (!masked) return Buffer.concat([Buffer.from(head), ext, payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ mask[i & 3]!;
  return Buffer.concat([Buffer.from(head), ext, mask, body]);
}
