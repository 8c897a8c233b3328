import { randomBytes } from "node:crypto";

/** The largest seq a message id can carry (40 bits). */
export const MAX_MESSAGE_SEQ = 2 ** 40 - 1;

/**
 * Message ids are UUIDv7 (48-bit commit time, version, variant) whose last 40 bits are the seq
 * of the message's MessageCreated event; the other 34 bits are random. So a message is found
 * from its id with one point read of the log (no second index to keep in step with it), and the
 * log stays the only store of record. A lookup always checks that the event at that seq really
 * is that message, so a made-up id is simply not found.
 */
export function messageIdFor(seq: number, createTimeMs: number): string {
  if (!Number.isSafeInteger(seq) || seq < 1 || seq > MAX_MESSAGE_SEQ) throw new RangeError(`seq ${seq} cannot be carried by a message id`);
  const b = randomBytes(16);
  let ms = createTimeMs;
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  let s = seq;
  for (let i = 15; i >= 11; i--) {
    b[i] = s % 256;
    s = Math.floor(s / 256);
  }
  const hex = b.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The seq a message id names, or undefined when the string is not such an id. */
export function seqOfMessageId(id: string): number | undefined {
  const lower = id.toLowerCase();
  if (!UUID7.test(lower)) return undefined;
  const seq = Number.parseInt(lower.slice(-10), 16);
  return seq >= 1 ? seq : undefined;
}
