import { Readable } from "node:stream";
import tar from "tar-stream";

/** Every entry of a tar archive, in archive order. */
export async function untar(archive: Uint8Array): Promise<[path: string, bytes: Buffer][]> {
  const entries: [string, Buffer][] = [];
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        entries.push([header.name, Buffer.concat(chunks)]);
        next();
      });
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  Readable.from([archive]).pipe(extract);
  await done;
  return entries;
}
