import { open, type FileHandle } from "node:fs/promises";
import { Readable } from "node:stream";
import { checkBlobKey, type BlobBody, type BlobInfo } from "../ports/blob-store.js";

/*
 * Object files hold a fixed 512-byte header (magic line, JSON info, space padding) before the
 * bytes, so an object and its content type and etag are replaced by one atomic rename.
 */
/** Size of the header before the object bytes. */
export const HEADER_BYTES = 512;
const MAGIC = "CAASBLOB1\n";

/** The checked header of the object file at `path` and an open handle; undefined when there is none. */
export async function openBlobFile(path: string): Promise<{ info: BlobInfo; fh: FileHandle } | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await fh.read(header, 0, HEADER_BYTES, 0);
    const info = bytesRead === HEADER_BYTES ? decodeHeader(header) : undefined;
    if (!info || (await fh.stat()).size !== HEADER_BYTES + info.size) throw new Error(`corrupt blob file ${path}`);
    return { info, fh };
  } catch (err) {
    await fh.close();
    if (isMissing(err)) return undefined; // e.g. EISDIR: the key is another key's directory
    throw err;
  }
}

/** The object bytes of an open blob file (after its header), as a stream that closes the handle. */
export function bodyStream(fh: FileHandle, size: number): Readable {
  if (size === 0) {
    void fh.close();
    return Readable.from([]);
  }
  return fh.createReadStream({ start: HEADER_BYTES, end: HEADER_BYTES + size - 1 });
}

/** A `BlobBody` (bytes, a Node stream or an async iterable) as chunks of bytes. */
export function chunksOf(body: BlobBody): AsyncIterable<Uint8Array> {
  if (body instanceof Uint8Array) {
    return (async function* () {
      yield body;
    })();
  }
  if (body === null || typeof body !== "object" || !(Symbol.asyncIterator in body)) {
    throw new TypeError("a blob body is a Uint8Array or an async iterable of Uint8Array");
  }
  return body;
}

/** Writes every byte of `data` at `position` (a single write may be partial). */
export async function writeAll(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < data.byteLength;) {
    const { bytesWritten } = await fh.write(data, done, data.byteLength - done, position + done);
    done += bytesWritten;
  }
}

/** The fixed-size header of an object file for `info`. */
export function encodeHeader(info: BlobInfo): Buffer {
  const text = `${MAGIC}${JSON.stringify({ size: info.size, contentType: info.contentType, etag: info.etag })}`;
  // A content type is at most 255 ASCII characters, so the text always fits.
  const header = Buffer.alloc(HEADER_BYTES, " ");
  header.write(text, "utf8");
  header[HEADER_BYTES - 1] = 0x0a;
  return header;
}

/** The info of a header read back; undefined when it is not one (wrong magic or bad JSON). */
export function decodeHeader(header: Buffer): BlobInfo | undefined {
  if (header.subarray(0, MAGIC.length).toString("latin1") !== MAGIC) return undefined;
  try {
    const v = JSON.parse(header.subarray(MAGIC.length).toString("utf8")) as Partial<BlobInfo>;
    if (typeof v.size !== "number" || typeof v.contentType !== "string" || typeof v.etag !== "string") return undefined;
    return { size: v.size, contentType: v.contentType, etag: v.etag };
  } catch {
    return undefined;
  }
}

/** True for a key the HTTP side may map to a file path (the port's key rules). */
export function isValidKey(key: string): boolean {
  try {
    checkBlobKey(key);
    return true;
  } catch {
    return false;
  }
}

/** True for a filesystem error that means "no such object" (ENOENT, ENOTDIR, EISDIR). */
export function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR";
}
