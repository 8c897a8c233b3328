import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { UnavailableError } from "@caas/shared/errors";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { AuditCheckpointSchema, AuditEventSchema, type AuditActorKind, type AuditEvent, type AuditOutcome, type AuditSubjectForm } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { chainHash } from "./domain/audit-chain.js";
import type { AuditStore, ChainHead } from "./ports/audit-store.js";

/** A record before it has a place in the chain. */
export interface AuditDraft {
  sourceEventId: string;
  source: string;
  eventTimeMs: number;
  actor: { kind: AuditActorKind; id: string };
  action: string;
  target: { type: string; id: string; conversationId?: string };
  outcome: AuditOutcome;
  correlationId: string;
  details?: Record<string, string>;
}

/** A draft as it is written: user ids already pseudonymised when the appender pseudonymises. */
type PreparedDraft = AuditDraft & { subjectForm?: AuditSubjectForm };

/** Signs checkpoints (AuditKeyManager). */
export interface CheckpointSigner {
  sign(checkpoint: ReturnType<typeof create<typeof AuditCheckpointSchema>>): Promise<ReturnType<typeof create<typeof AuditCheckpointSchema>>>;
}

/** Replaces the user ids of a draft with pseudonyms (AuditPseudonyms). */
export interface DraftPseudonymiser {
  /** `linked` carries the user id to pseudonym links met so far in one batch (see AuditPseudonyms). */
  pseudonymise(scope: TenantScope, draft: AuditDraft, linked?: Map<string, string>): Promise<AuditDraft & { subjectForm: AuditSubjectForm }>;
}

/** How the appender checkpoints. */
export interface AuditAppenderOptions {
  store: AuditStore;
  clock: Clock;
  signer: CheckpointSigner;
  logger?: Logger;
  /** A checkpoint is signed at every multiple of this many records. Default 100. */
  checkpointEvery?: number;
  /** Writes user ids as pseudonyms; without it records keep raw user ids. */
  pseudonyms?: DraftPseudonymiser;
}

const MAX_ATTEMPTS = 1000;

/**
 * Appends records to tenants' chains. Each append reads the head, chains the record after it and
 * inserts it at head + 1; when another writer took that position first, it reads the head again
 * and retries (after a short random pause from the second loss on), so concurrent instances never fork a chain and never skip a position. A source
 * event already recorded returns its record (redeliveries are no-ops). Every `checkpointEvery`
 * records, and whenever `checkpointTouched` runs (the timer), the head is signed.
 */
export class AuditAppender {
  private readonly every: bigint;
  private readonly touched = new Map<string, TenantScope>();

  constructor(private readonly opts: AuditAppenderOptions) {
    this.every = BigInt(opts.checkpointEvery ?? 100);
    if (this.every < 1n) throw new RangeError("checkpointEvery must be at least 1");
  }

  /** Appends the record of one source event (or returns the one already made from it). */
  async append(scope: TenantScope, given: AuditDraft): Promise<{ event: AuditEvent; duplicate: boolean }> {
    const existing = await this.opts.store.findBySource(scope, given.sourceEventId);
    if (existing) return { event: existing, duplicate: true };
    return this.appendPrepared(scope, await this.prepare(scope, given));
  }

  /**
   * Appends the records of several source events of one tenant, in order, as `append` would one by
   * one: the run is chained after the head in memory and written by one `insertRun`. Where the run
   * stops (another writer took a position, or a source event is recorded already) that record goes
   * through `append`'s path and the rest is chained again after the new head, so the chain stays
   * dense and each source event is one record. A source event given twice is appended once.
   */
  async appendBatch(scope: TenantScope, given: readonly AuditDraft[]): Promise<{ event: AuditEvent; duplicate: boolean }[]> {
    // Index of each source event's record in `results`.
    const indexOf = new Map<string, number>();
    const drafts: PreparedDraft[] = [];
    const linked = new Map<string, string>();
    for (const d of given) {
      if (indexOf.has(d.sourceEventId)) continue;
      indexOf.set(d.sourceEventId, drafts.length);
      drafts.push(await this.prepare(scope, d, linked));
    }
    const results: { event: AuditEvent; duplicate: boolean }[] = [];
    while (results.length < drafts.length) {
      const head = await this.opts.store.head(scope);
      const run = this.chain(scope, head, drafts.slice(results.length));
      const inserted = await this.opts.store.insertRun(scope, run);
      for (const event of run.slice(0, inserted)) results.push(await this.appended(scope, event));
      // The refused record: a redelivery is answered from the store, a lost position retried.
      if (results.length < drafts.length) results.push(await this.appendPrepared(scope, drafts[results.length]!));
    }
    return given.map((d) => results[indexOf.get(d.sourceEventId)!]!);
  }

  private async prepare(scope: TenantScope, given: AuditDraft, linked?: Map<string, string>): Promise<PreparedDraft> {
    // Once per record, before any retry: a retry must write the same record.
    return this.opts.pseudonyms ? await this.opts.pseudonyms.pseudonymise(scope, given, linked) : given;
  }

  private async appendPrepared(scope: TenantScope, draft: PreparedDraft): Promise<{ event: AuditEvent; duplicate: boolean }> {
    const { store } = this.opts;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const head = await store.head(scope);
      const [event] = this.chain(scope, head, [draft]);
      const outcome = await store.insert(scope, event!);
      if (outcome.kind === "duplicate") return { event: outcome.existing, duplicate: true };
      if (outcome.kind === "inserted") return this.appended(scope, event!);
      // Lost the position to another writer: a short random pause spreads writers that would
      // otherwise keep colliding on the same head.
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** attempt)));
    }
    throw new UnavailableError("the audit chain is too contended to append; retry");
  }

  /** The records of `drafts` chained one after another from `head`. */
  private chain(scope: TenantScope, head: ChainHead, drafts: readonly PreparedDraft[]): AuditEvent[] {
    let prev = head;
    return drafts.map((draft) => {
      const event = create(AuditEventSchema, {
        tenantId: scope.tenantId,
        position: prev.position + 1n,
        sourceEventId: draft.sourceEventId,
        source: draft.source,
        eventTime: timestampFromMs(Math.trunc(draft.eventTimeMs)),
        actor: draft.actor,
        action: draft.action,
        target: { type: draft.target.type, id: draft.target.id, conversationId: draft.target.conversationId ?? "" },
        outcome: draft.outcome,
        correlationId: draft.correlationId,
        details: Object.entries(draft.details ?? {})
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([key, value]) => ({ key, value })),
        recordTime: timestampFromMs(this.opts.clock.nowMs()),
        ...(draft.subjectForm !== undefined ? { subjectForm: draft.subjectForm } : {}),
      });
      event.hash = chainHash(prev.hash, event);
      prev = event;
      return event;
    });
  }

  /** After a record is stored: its tenant is due a timer checkpoint, and every `checkpointEvery`th position is signed now. */
  private async appended(scope: TenantScope, event: AuditEvent): Promise<{ event: AuditEvent; duplicate: boolean }> {
    this.touched.set(scope.tenantId, scope);
    if (event.position % this.every === 0n) await this.checkpointAt(scope, event.position, event.hash);
    return { event, duplicate: false };
  }

  /** Signs the current head of every tenant appended to since the last call (the T-seconds checkpoint). */
  async checkpointTouched(): Promise<number> {
    const scopes = [...this.touched.values()];
    this.touched.clear();
    let made = 0;
    for (const scope of scopes) if (await this.checkpointHead(scope)) made++;
    return made;
  }

  /** Signs the tenant's head unless a checkpoint already covers it. */
  async checkpointHead(scope: TenantScope): Promise<boolean> {
    const head = await this.opts.store.head(scope);
    if (head.position === 0n) return false;
    const last = await this.opts.store.checkpointAtOrBefore(scope, head.position);
    if (last?.position === head.position) return false;
    return this.checkpointAt(scope, head.position, head.hash);
  }

  private async checkpointAt(scope: TenantScope, position: bigint, headHash: Uint8Array): Promise<boolean> {
    const unsigned = create(AuditCheckpointSchema, { tenantId: scope.tenantId, position, headHash, createTime: timestampFromMs(this.opts.clock.nowMs()) });
    const signed = await this.opts.signer.sign(unsigned);
    return this.opts.store.insertCheckpoint(scope, create(AuditCheckpointSchema, signed));
  }
}
