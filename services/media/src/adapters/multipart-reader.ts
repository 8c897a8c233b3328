/** A malformed multipart/form-data body (the HTTP side answers 400). */
export class FormError extends Error {}

/**
 * A streaming reader of a multipart/form-data body (RFC 7578): parts in order, each part's body
 * as chunks, holding back only a possible partial delimiter between chunks.
 */
export class FormReader {
  private readonly source: AsyncIterator<Buffer>;
  private readonly delimiter: Buffer;
  // Starts with CRLF so the first boundary line reads like every later delimiter.
  private buf: Buffer = Buffer.from("\r\n");
  private inBody = true;

  constructor(source: AsyncIterable<Buffer>, boundary: string) {
    this.source = source[Symbol.asyncIterator]();
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
  }

  /** The next part's name (its headers consumed), or undefined after the closing delimiter. */
  async nextPart(): Promise<{ name: string } | undefined> {
    if (this.inBody) for await (const _ of this.body()); // skips the preamble or an unread part
    while (this.buf.length < 2) await this.more();
    if (this.buf[0] === 0x2d && this.buf[1] === 0x2d) return undefined; // "--": the closing delimiter
    let end: number;
    while ((end = this.buf.indexOf("\r\n\r\n")) < 0) {
      if (this.buf.length > 8192) throw new FormError("form part headers too long");
      await this.more();
    }
    const headers = this.buf.subarray(0, end).toString("latin1");
    this.buf = this.buf.subarray(end + 4);
    this.inBody = true;
    const disposition = /^content-disposition:\s*form-data\s*;(.*)$/im.exec(headers);
    const name = disposition && /(?:^|;)\s*name="([^"]*)"/i.exec(disposition[1]!);
    if (!name?.[1]) throw new FormError("form part without a name");
    return { name: name[1] };
  }

  /** The current part's body, as chunks; ends at the next delimiter (consumed). */
  async *body(): AsyncGenerator<Buffer> {
    for (;;) {
      const at = this.buf.indexOf(this.delimiter);
      if (at >= 0) {
        if (at > 0) yield this.buf.subarray(0, at);
        this.buf = this.buf.subarray(at + this.delimiter.length);
        this.inBody = false;
        return;
      }
      const keep = this.delimiter.length - 1;
      if (this.buf.length > keep) {
        const out = this.buf.subarray(0, this.buf.length - keep);
        this.buf = this.buf.subarray(this.buf.length - keep);
        yield out;
      }
      await this.more();
    }
  }

  /** Reads and drops the rest of the request body, at most `limit` bytes more; true when it ended within them. */
  async drain(limit: number): Promise<boolean> {
    let seen = this.buf.length;
    this.buf = Buffer.alloc(0);
    while (seen <= limit) {
      const next = await this.source.next();
      if (next.done) return true;
      seen += next.value.length;
    }
    return false;
  }

  /** The current part's body as text, refusing more than `limit` bytes. */
  async readField(limit: number): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.body()) {
      size += chunk.length;
      if (size > limit) throw new FormError("form field too long");
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
  }

  private async more(): Promise<void> {
    const next = await this.source.next();
    if (next.done) throw new FormError("truncated form body");
    this.buf = this.buf.length === 0 ? next.value : Buffer.concat([this.buf, next.value]);
  }
}
