import { clone } from "@bufbuild/protobuf";
import { AuditBreakReason, AuditEventSchema, type AuditCheckpoint, type AuditEvent } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { chainHash, checkpointSignatureValid, sameBytes } from "./audit-chain.js";

/** Where verification starts: a signed checkpoint (or the genesis, position 0) the chain continues from. */
export interface ChainAnchor {
  position: bigint;
  hash: Uint8Array;
}

/** What to verify: the stored records after the anchor in stored position order, the checkpoints, the keys. */
export interface VerifyInput {
  anchor: ChainAnchor;
  rows: AsyncIterable<AuditEvent> | Iterable<AuditEvent>;
  /** Checkpoints at or after the anchor, ascending by position (the anchor's own included when it is one). */
  checkpoints: readonly AuditCheckpoint[];
  /** Raw Ed25519 public keys by key id. */
  keys: ReadonlyMap<string, Uint8Array>;
  /** Stop after this position; 0 or absent: after the last row. */
  endPosition?: bigint;
}

/** The outcome: ok, or the first broken position and why. */
export interface VerifyResult {
  ok: boolean;
  brokenPosition: bigint;
  reason: AuditBreakReason;
  description: string;
  recordsChecked: bigint;
  checkpointsChecked: bigint;
  signedThrough: bigint;
}

/** How far ahead a broken record is compared with the ones after it, to tell reordered and inserted records from changed ones. */
export const LOOKAHEAD = 64;

/**
 * Recomputes a tenant's chain from the anchor and checks each checkpoint on the way: its
 * signature under the key it names and its head hash against the recomputed chain. Reports the
 * first broken position: a gap is MISSING; a record whose hash does not chain is REORDERED when a
 * later record chains at its place (and it chains after that one), INSERTED when the next record
 * chains at its place, CHANGED otherwise; a bad signature is BAD_SIGNATURE; a self-consistent
 * chain that differs from a signed head is CHECKPOINT_MISMATCH.
 */
export async function verifyChain(input: VerifyInput): Promise<VerifyResult> {
  const end = input.endPosition && input.endPosition > 0n ? input.endPosition : undefined;
  const pending = [...input.checkpoints].sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
  let checkpointsChecked = 0n;
  let signedThrough = input.anchor.position;
  let recordsChecked = 0n;
  let prev = input.anchor.hash;
  let expected = input.anchor.position + 1n;
  const broken = (position: bigint, reason: AuditBreakReason, description: string): VerifyResult => ({
    ok: false,
    brokenPosition: position,
    reason,
    description,
    recordsChecked,
    checkpointsChecked,
    signedThrough,
  });
  // Checkpoints at `position`: signature first, then the head they sign.
  const checkpointsAt = (position: bigint, head: Uint8Array): VerifyResult | undefined => {
    while (pending.length > 0 && pending[0]!.position <= position) {
      const cp = pending.shift()!;
      const key = input.keys.get(cp.keyId);
      if (!key || !checkpointSignatureValid(cp, key)) {
        return broken(cp.position, AuditBreakReason.BAD_SIGNATURE, `the checkpoint at position ${cp.position} does not verify under key ${cp.keyId || "(none)"}`);
      }
      if (cp.position === position && !sameBytes(cp.headHash, head)) {
        return broken(cp.position, AuditBreakReason.CHECKPOINT_MISMATCH, `the chain through position ${cp.position} differs from the signed checkpoint: records up to it were rewritten`);
      }
      checkpointsChecked += 1n;
      signedThrough = cp.position;
    }
    return undefined;
  };
  const atAnchor = checkpointsAt(input.anchor.position, input.anchor.hash);
  if (atAnchor) return atAnchor;

  const iterator = toAsyncIterator(input.rows);
  const buffer: AuditEvent[] = [];
  let exhausted = false;
  const fill = async () => {
    while (!exhausted && buffer.length <= LOOKAHEAD) {
      const next = await iterator.next();
      if (next.done) exhausted = true;
      else buffer.push(next.value);
    }
  };
  for (;;) {
    await fill();
    const row = buffer[0];
    if (!row || (end !== undefined && expected > end)) break;
    if (row.position > expected) return broken(expected, AuditBreakReason.MISSING, `no record at position ${expected}: it was deleted`);
    if (row.position < expected) return broken(row.position, AuditBreakReason.INSERTED, `a second record claims position ${row.position}`);
    const hash = chainHash(prev, row);
    if (!sameBytes(hash, row.hash)) return classify(buffer, prev, expected, broken);
    buffer.shift();
    recordsChecked += 1n;
    prev = row.hash;
    const cp = checkpointsAt(expected, prev);
    if (cp) return cp;
    expected += 1n;
  }
  const last = expected - 1n;
  const beyond = pending.find((cp) => end === undefined || cp.position <= end);
  if (beyond && beyond.position > last) {
    return broken(last + 1n, AuditBreakReason.MISSING, `a signed checkpoint covers ${beyond.position} records but the chain ends at ${last}`);
  }
  return { ok: true, brokenPosition: 0n, reason: AuditBreakReason.UNSPECIFIED, description: `${recordsChecked} records chain correctly`, recordsChecked, checkpointsChecked, signedThrough };
}

function classify(buffer: readonly AuditEvent[], prev: Uint8Array, position: bigint, broken: (position: bigint, reason: AuditBreakReason, description: string) => VerifyResult): VerifyResult {
  const row = buffer[0]!;
  for (let j = 1; j < buffer.length; j++) {
    const candidate = buffer[j]!;
    if (!sameBytes(chainHash(prev, at(candidate, position)), candidate.hash)) continue;
    const rowFollows = sameBytes(chainHash(candidate.hash, at(row, position + 1n)), row.hash);
    if (j === 1 && !rowFollows) {
      return broken(position, AuditBreakReason.INSERTED, `the record at position ${position} was not appended by compliance: the next record chains from the one before it`);
    }
    return broken(position, AuditBreakReason.REORDERED, `the record at position ${position} belongs elsewhere: the record stored at ${candidate.position} belongs here`);
  }
  return broken(position, AuditBreakReason.CHANGED, `the record at position ${position} does not match its hash: its content or hash was changed`);
}

function at(event: AuditEvent, position: bigint): AuditEvent {
  const copy = clone(AuditEventSchema, event);
  copy.position = position;
  return copy;
}

function toAsyncIterator<T>(source: AsyncIterable<T> | Iterable<T>): AsyncIterator<T> | Iterator<T> {
  return Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
}
