import { checkName } from "../adapters/checks.js";
import { MAX_APPEND_BATCH, type AppendInput } from "./event-log-store.js";

/** The argument checks of `append`, shared by every adapter (a bad argument is a programming error: RangeError). */
export function checkAppend(input: AppendInput): void {
  checkName("conversationId", input.conversationId, 128);
  checkName("eventId", input.eventId, 64);
  if (typeof input.actorId !== "string" || input.actorId.length > 128) throw new RangeError("actorId must be a string of 0-128 characters");
  if (input.clientMessageId !== undefined) {
    checkName("clientMessageId", input.clientMessageId, 128);
    // "~" starts the placeholder of events without one.
    if (input.clientMessageId.startsWith("~")) throw new RangeError("clientMessageId must not start with '~'");
  }
  if (typeof input.payloadHash !== "string") throw new RangeError("payloadHash must be a string");
  if (typeof input.encode !== "function") throw new RangeError("encode must be a function");
}

/** A seq argument: a non-negative safe integer. */
export function checkSeq(seq: number): number {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`seq must be a non-negative integer, got ${String(seq)}`);
  return seq;
}

/** A page size: an integer in 1..1000. */
export function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new RangeError(`limit must be an integer in 1..1000, got ${String(limit)}`);
  return limit;
}

/** The argument checks of `appendBatch`: every input as `append`'s, all of one conversation, at most MAX_APPEND_BATCH; the conversation id. */
export function checkAppendBatch(inputs: AppendInput[]): string | undefined {
  if (!Array.isArray(inputs) || inputs.length > MAX_APPEND_BATCH) throw new RangeError(`inputs: at most ${MAX_APPEND_BATCH}`);
  inputs.forEach(checkAppend);
  const conversationId = inputs[0]?.conversationId;
  if (inputs.some((i) => i.conversationId !== conversationId)) throw new RangeError("inputs: every input of a batch must be of one conversation");
  return conversationId;
}

/** The argument checks of `redactBatch`: at most MAX_APPEND_BATCH entries, valid seqs and bodies. */
export function checkRedactBatch(entries: { seq: number; body: Uint8Array }[]): void {
  if (!Array.isArray(entries) || entries.length > MAX_APPEND_BATCH) throw new RangeError(`entries: at most ${MAX_APPEND_BATCH}`);
  for (const e of entries) {
    checkSeq(e.seq);
    if (!(e.body instanceof Uint8Array)) throw new RangeError("entries: body must be a Uint8Array");
  }
}
