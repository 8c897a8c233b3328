import { bytesFromBson, upsertRetryingOnce, type MongoCollection } from "@caas/shared/mongo";
import type { AuditRow, CheckpointRow } from "./audit-rows.js";

/*
 * How the MongoDB audit store reads without sorting a tenant's whole chain. FerretDB (on
 * PostgreSQL) pushes only plain equality filters down to its backend: a sort, a range operator,
 * `$in` or a limit after a sort makes it fetch every document matching the equalities and finish
 * in Go, so `find({tenantId}).sort({position: -1}).limit(1)` costs the whole chain. Every read
 * here is therefore an equality: a record by `_id` (`<tenant>|<position>`), or a block of
 * consecutive positions by (tenantId, block); the exact range and order are applied here.
 * On MongoDB the same queries are served by the `_id` and (tenantId, block) indexes.
 */

/** Positions per record block: a range read fetches whole blocks (at most this many documents each). */
export const RECORD_BLOCK = 256;
/** Positions per checkpoint block (a checkpoint every 100 records puts about ten in each). */
export const CHECKPOINT_BLOCK = 1024;

/** The block of `position` in blocks of `size` positions. */
export const blockOf = (position: number, size: number): number => Math.floor(position / size);

/** A stored record: `_id` is `<tenant>|<position>`, so the insert that wins it claims the position. */
export interface EventDoc extends AuditRow {
  _id: string;
  /** floor(position / RECORD_BLOCK). */
  block: number;
}

/** A stored checkpoint, `_id` `<tenant>|<position>`. */
export interface CheckpointDoc extends CheckpointRow {
  _id: string;
  /** floor(position / CHECKPOINT_BLOCK). */
  block: number;
}

/** Per tenant (`_id` = tenant id): the highest checkpoint position ever written (raised before the checkpoint is inserted). */
export interface HeadDoc {
  _id: string;
  tenantId: string;
  checkpointPosition: number;
}

/** Tenants whose last known head is kept in memory (beyond it the oldest is forgotten; it is only a starting point). */
const MAX_HINTS = 10_000;

/**
 * Finds a tenant's chain head by point reads. Positions are dense (an insert at head + 1 claims
 * the next position), so "a record exists at p" holds for every p up to the head and for none
 * after: the head is found by galloping from a hint (the last position this process saw, else the
 * tenant's last checkpoint, else 0) and then bisecting. The hint is never trusted alone: the
 * record at it is read (which gives the hash), and a missing one restarts from 0. Another
 * instance having appended k records costs about 2 log2(k) reads; an exact hint, two.
 */
export class MongoChainHeads {
  private readonly hints = new Map<string, number>();

  constructor(
    private readonly events: MongoCollection<EventDoc>,
    private readonly heads: MongoCollection<HeadDoc>,
  ) {}

  /** The last record of the tenant's chain, or undefined when it has none. */
  async head(tenantId: string): Promise<{ position: number; hash: Uint8Array } | undefined> {
    let lo = this.hints.get(tenantId) ?? (await this.checkpointHead(tenantId));
    let loHash = lo > 0 ? await this.hashAt(tenantId, lo) : undefined;
    if (!loHash) lo = 0;
    // Gallop: lo exists (or is 0), probe lo + 1, lo + 3, lo + 7, ... until hi is missing.
    let step = 1;
    for (let hash = await this.hashAt(tenantId, lo + step); hash; hash = await this.hashAt(tenantId, lo + step)) {
      lo += step;
      loHash = hash;
      step *= 2;
    }
    let hi = lo + step;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const hash = await this.hashAt(tenantId, mid);
      if (hash) [lo, loHash] = [mid, hash];
      else hi = mid;
    }
    this.saw(tenantId, lo);
    return lo > 0 && loHash ? { position: lo, hash: loHash } : undefined;
  }

  /** Notes a position known to be taken (after an insert). */
  saw(tenantId: string, position: number): void {
    if ((this.hints.get(tenantId) ?? -1) >= position) return;
    this.hints.delete(tenantId);
    if (this.hints.size >= MAX_HINTS) this.hints.delete(this.hints.keys().next().value!);
    this.hints.set(tenantId, position);
  }

  /** The highest checkpoint position the tenant has had (0: none). */
  async checkpointHead(tenantId: string): Promise<number> {
    return (await this.heads.findOne({ _id: tenantId }))?.checkpointPosition ?? 0;
  }

  /** Raises the tenant's checkpoint head to `position` (before that checkpoint is inserted, so no stored checkpoint is ever above it). */
  async raiseCheckpointHead(tenantId: string, position: number): Promise<void> {
    await upsertRetryingOnce(() => this.heads.updateOne({ _id: tenantId }, { $max: { checkpointPosition: position }, $set: { tenantId } }, { upsert: true }));
  }

  private async hashAt(tenantId: string, position: number): Promise<Uint8Array | undefined> {
    const doc = await this.events.findOne({ _id: `${tenantId}|${position}` }, { projection: { hash: 1 } });
    return doc ? bytesFromBson(doc.hash) : undefined;
  }
}
