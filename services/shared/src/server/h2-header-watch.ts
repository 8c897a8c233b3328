/** The client connection preface (RFC 9113 3.4) the relay passes on before the first frame. */
const PREFACE_LENGTH = 24;
const FRAME_HEADER_LENGTH = 9;
const TYPE_HEADERS = 0x1;
const TYPE_CONTINUATION = 0x9;
const FLAG_END_HEADERS = 0x4;

/**
 * Watches the bytes a client sends on an HTTP/2 connection for slow header blocks (slowloris):
 * the first complete header block must arrive within `timeoutMs` of connecting, and every header
 * block (HEADERS and its CONTINUATIONs) must end within `timeoutMs` of starting. Node's http2 has
 * no header timeout of its own and activity (a trickle of CONTINUATION bytes) keeps its idle
 * timer alive. Only frame headers are parsed (9 bytes each); payloads are skipped unread.
 */
export class H2HeaderWatch {
  private prefaceLeft = PREFACE_LENGTH;
  private header = Buffer.alloc(FRAME_HEADER_LENGTH);
  private headerFill = 0;
  private payloadLeft = 0;
  private blockOpen = true;
  /** The frame being read ends its header block: the block is complete once its payload is in. */
  private endsBlock = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly timeoutMs: number,
    private readonly onTimeout: (what: string) => void,
  ) {
    this.arm("no complete request headers after connecting");
  }

  /** Feeds bytes read from the client, in order. */
  feed(chunk: Buffer): void {
    let i = 0;
    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, chunk.length);
      this.prefaceLeft -= n;
      i = n;
    }
    while (i < chunk.length) {
      if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, chunk.length - i);
        this.payloadLeft -= n;
        i += n;
        if (this.payloadLeft === 0 && this.endsBlock) this.blockComplete();
        continue;
      }
      const n = Math.min(FRAME_HEADER_LENGTH - this.headerFill, chunk.length - i);
      chunk.copy(this.header, this.headerFill, i, i + n);
      this.headerFill += n;
      i += n;
      if (this.headerFill < FRAME_HEADER_LENGTH) break;
      this.headerFill = 0;
      this.payloadLeft = this.header.readUIntBE(0, 3);
      this.onFrame(this.header[3]!, this.header[4]!);
    }
  }

  /** Stops the timer (the connection closed). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private onFrame(type: number, flags: number): void {
    if (type !== TYPE_HEADERS && type !== TYPE_CONTINUATION) return;
    if (type === TYPE_HEADERS && !this.blockOpen) {
      this.blockOpen = true;
      this.arm("a request header block was not completed");
    }
    this.endsBlock = (flags & FLAG_END_HEADERS) !== 0;
    if (this.endsBlock && this.payloadLeft === 0) this.blockComplete();
  }

  private blockComplete(): void {
    this.endsBlock = false;
    this.blockOpen = false;
    this.stop();
  }

  private arm(what: string): void {
    this.stop();
    this.timer = setTimeout(() => this.blockOpen && this.onTimeout(`${what} within ${this.timeoutMs} ms`), this.timeoutMs);
    this.timer.unref();
  }
}
