import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { UnavailableError } from "@caas/shared/errors";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { AuditCheckpointSchema, AuditEventSchema, type AuditActorKind, type AuditEvent, type AuditOutcome, type AuditSubjectForm } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { chainHash } from "./domain/audit-chain.js";
import type { AuditStore } from "./ports/audit-store.js";

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

/** Signs checkpoints (AuditKeyManager). */
export interface CheckpointSigner {
  sign(checkpoint: ReturnType<typeof create<typeof AuditCheckpointSchema>>): Promise<ReturnType<typeof create<typeof AuditCheckpointSchema>>>;
}

/** Replaces the user ids of a draft with pseudonyms (AuditPseudonyms). */
export interface DraftPseudonymiser {
  pseudonymise(scope: TenantScope, draft: AuditDraft): Promise<AuditDraft & { subjectForm: AuditSubjectForm }>;
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
    const { store } = this.opts;
    const existing = await store.findBySource(scope, given.sourceEventId);
    if (existing) return { event: existing, duplicate: true };
    // Once per append, before the retries: a retry must write the same record.
    const draft: AuditDraft & { subjectForm?: AuditSubjectForm } = this.opts.pseudonyms ? await this.opts.pseudonyms.pseudonymise(scope, given) : given;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const head = await store.head(scope);
      const event = create(AuditEventSchema, {
        tenantId: scope.tenantId,
        position: head.position + 1n,
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
      event.hash = chainHash(head.hash, event);
      const outcome = await store.insert(scope, event);
      if (outcome.kind === "duplicate") return { event: outcome.existing, duplicate: true };
      if (outcome.kind === "inserted") {
        this.touched.set(scope.tenantId, scope);
        if (event.position % this.every === 0n) await this.checkpointAt(scope, event.position, event.hash);
        return { event, duplicate: false };
      }
      // Lost the position to another writer: a short random pause spreads writers that would
      // otherwise keep colliding on the same head.
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** attempt)));
    }
    throw new UnavailableError("the audit chain is too contended to append; retry");
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
