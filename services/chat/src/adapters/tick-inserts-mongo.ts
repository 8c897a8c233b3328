import type { Document } from "mongodb";
import type { ChatMongoCollection } from "./chat-mongo.js";

/** Documents of one `insertMany` at most (FerretDB v1 answers small batches; see ADR 0215). */
const MAX_BATCH = 64;

interface Waiting<T> {
  doc: T;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Inserts into one collection gathered over an event-loop tick and sent as one unordered
 * `insertMany` (ADR 0215): the calls made in one tick (sends whose commits were answered together)
 * cost one round trip instead of one each. Each call resolves once its document is stored, or is
 * already there (a duplicate `_id`: the inserts this is for are idempotent by `_id`), and rejects
 * with its own document's error otherwise; a failed command rejects every call of the batch.
 * Unordered, so one document's failure does not stop the others.
 */
export function tickInserts<T extends Document>(collection: ChatMongoCollection<T>): (doc: T) => Promise<void> {
  let pending: Waiting<T>[] = [];

  async function send(batch: Waiting<T>[]): Promise<void> {
    try {
      await collection.insertMany(
        batch.map((w) => w.doc as never),
        { ordered: false },
      );
      for (const w of batch) w.resolve();
    } catch (err) {
      const failed = writeErrorsOf(err);
      if (!failed) {
        for (const w of batch) w.reject(err);
        return;
      }
      batch.forEach((w, i) => {
        const code = failed.get(i);
        if (code === undefined || code === 11000) w.resolve();
        else w.reject(err);
      });
    }
  }

  return (doc) =>
    new Promise<void>((resolve, reject) => {
      pending.push({ doc, resolve, reject });
      if (pending.length > 1) return;
      setImmediate(() => {
        const all = pending;
        pending = [];
        for (let i = 0; i < all.length; i += MAX_BATCH) void send(all.slice(i, i + MAX_BATCH));
      });
    });
}

/** The per-document errors of a failed insertMany by index (code), or undefined when the command itself failed. */
function writeErrorsOf(err: unknown): Map<number, unknown> | undefined {
  const raw = (err as { writeErrors?: unknown } | null)?.writeErrors;
  const list = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]) as { index?: unknown; code?: unknown }[];
  if (list.length === 0) return undefined;
  const out = new Map<number, unknown>();
  for (const e of list) {
    if (typeof e.index !== "number") return undefined;
    out.set(e.index, e.code);
  }
  // A write concern error besides the documents' own: the command's outcome is unknown.
  if ((err as { writeConcernError?: unknown }).writeConcernError !== undefined) return undefined;
  return out;
}
