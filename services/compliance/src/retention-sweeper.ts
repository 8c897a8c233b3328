import { randomUUID } from "node:crypto";
import { AuditActorKind, AuditOutcome } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import { scopeForAdmin, type TenantScope } from "@caas/shared/tenant-scope";
import type { AuditAppender, AuditDraft } from "./audit-appender.js";
import { cutsAt, effectiveAges, holdSetOf, withTenantSetting, type HoldSet } from "./domain/retention-policy.js";
import type { RetentionPolicyRecord, RetentionStore } from "./ports/retention-store.js";
import type { SelfAudit } from "./privacy-jobs.js";
import { MEDIA_BATCH, type RetentionParts } from "./retention-parts.js";
import type { ExportArchives } from "./export-archives.js";

/** What a run removed (or, dry, would remove). */
export interface RetentionTally {
  messages: number;
  media: number;
  conversations: number;
  heldConversations: number;
  heldMessages: number;
  /** Export archives deleted because their retention ran out (dry: due). */
  exports: number;
}

/** Who asked for a run: the periodic sweeper (the compliance service) or an API caller. */
export type RunActor = AuditDraft["actor"];

const SWEEPER: RunActor = { kind: AuditActorKind.SERVICE, id: "compliance" };
const TENANT_PAGE = 100;

/** The source of compliance's own audit records (retention runs, legal holds). */
export const COMPLIANCE_SOURCE = "caas.compliance";

/** Compliance's own audit records (erasure requests and completions, verification runs), appended at the clock's time with outcome SUCCESS. */
export function ownAuditOf(appender: AuditAppender, clock: Clock): SelfAudit {
  return async (scope, record) => {
    await appender.append(scope, { ...record, source: COMPLIANCE_SOURCE, eventTimeMs: clock.nowMs(), outcome: AuditOutcome.SUCCESS });
  };
}

/**
 * Applies retention policies: per conversation the narrower of the tenant's and the
 * conversation's ages, as cuts chat applies through its delete-for-everyone path (paged), and
 * the media ids chat returns deleted through media. Held data is passed over: the whole tenant,
 * held conversations, and messages of held senders. A run that is not a dry run is audited
 * (`compliance.retention.run`, the counts in its details). Runs are idempotent: a second run, or
 * two instances sweeping at once, finds the expired messages already deleted.
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> = Promise.resolve();

  constructor(private readonly deps: { store: RetentionStore; parts: RetentionParts; appender: AuditAppender; clock: Clock; logger: Logger; exports?: ExportArchives }) {}

  /** Runs `sweepAll` every `intervalMs` (0: never). */
  start(intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => {
      this.sweeping = this.sweeping.then(() => this.sweepAll()).catch((err: unknown) => this.deps.logger.warn({ err }, "retention sweep failed; retried at the next tick"));
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a sweep in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sweeping;
  }

  /** One run over every tenant with a policy, then every tenant's due export archives; a tenant that fails is logged and the others go on. */
  async sweepAll(): Promise<void> {
    await this.sweepPolicies();
    await this.deps.exports?.expireDue().catch((err: unknown) => this.deps.logger.warn({ err }, "export archive expiry failed; retried at the next sweep"));
  }

  /** The tenants with a RetentionService policy, then those whose auth settings set a message retention (each once). */
  private async sweepPolicies(): Promise<void> {
    const done = new Set<string>();
    const runOnce = async (tenantId: string) => {
      if (done.has(tenantId)) return;
      done.add(tenantId);
      await this.run(tenantId, { actor: SWEEPER }).catch((err: unknown) => this.deps.logger.warn({ err, tenantId }, "retention run failed; retried at the next sweep"));
    };
    for (let after = ""; ;) {
      const tenants = await this.deps.store.tenantsWithPolicies({ after, limit: TENANT_PAGE });
      for (const tenantId of tenants) await runOnce(tenantId);
      if (tenants.length < TENANT_PAGE) break;
      after = tenants[tenants.length - 1]!;
    }
    for (let after = ""; ;) {
      const page = await this.deps.parts.tenantsWithMessageRetention(after);
      for (const tenantId of page.ids) await runOnce(tenantId);
      if (page.next === "") return;
      after = page.next;
    }
  }

  /** Applies (or, with dryRun, counts) the tenant's policies now, to one conversation or all. */
  async run(tenantId: string, opts: { actor: RunActor; dryRun?: boolean; conversationId?: string; correlationId?: string }): Promise<RetentionTally> {
    const scope = scopeForAdmin(tenantId);
    const dryRun = opts.dryRun ?? false;
    const policies = await this.deps.store.policies(scope);
    const holds = holdSetOf(await this.deps.store.holds(scope, { includeReleased: false }));
    const tally: RetentionTally = { messages: 0, media: 0, conversations: 0, heldConversations: 0, heldMessages: 0, exports: 0 };
    const nowMs = this.deps.clock.nowMs();
    // auth's TenantSettings.message_retention is a tenant-level message age too: the narrower wins.
    const tenantPolicy = withTenantSetting(
      tenantId,
      policies.find((p) => p.conversationId === ""),
      await this.deps.parts.tenantMessageRetention(tenantId),
    );
    const own = new Map(policies.filter((p) => p.conversationId !== "").map((p) => [p.conversationId, p]));
    for await (const conversationId of this.targets(tenantId, tenantPolicy, own, opts.conversationId)) {
      tally.conversations++;
      if (holds.tenant || holds.conversations.has(conversationId)) {
        tally.heldConversations++;
        continue;
      }
      await this.cut(tenantId, conversationId, { ...cutsAt(effectiveAges(tenantPolicy, own.get(conversationId)), nowMs), dryRun }, holds, tally);
    }
    // Export archives belong to the tenant, not to a conversation: a run for one conversation leaves them.
    if (!opts.conversationId && this.deps.exports) tally.exports = await this.deps.exports.expireDue({ tenantId, dryRun });
    if (!dryRun) await this.audit(scope, opts, tally, nowMs);
    return tally;
  }

  /** The conversations a run looks at: the one asked for, every conversation when the tenant has a policy, else those with their own. */
  private async *targets(tenantId: string, tenantPolicy: RetentionPolicyRecord | undefined, own: Map<string, RetentionPolicyRecord>, only: string | undefined): AsyncGenerator<string> {
    if (only) {
      if (tenantPolicy || own.has(only)) yield only;
      return;
    }
    if (!tenantPolicy) {
      yield* [...own.keys()];
      return;
    }
    let token = "";
    do {
      const page = await this.deps.parts.conversations(tenantId, token);
      yield* page.ids;
      token = page.next;
    } while (token);
  }

  private async cut(tenantId: string, conversationId: string, cut: { messageBeforeMs: number; mediaBeforeMs: number; dryRun: boolean }, holds: HoldSet, tally: RetentionTally): Promise<void> {
    if (cut.messageBeforeMs === 0 && cut.mediaBeforeMs === 0) return;
    const media = new Set<string>();
    let token = "";
    do {
      const page = await this.deps.parts.applyCut(tenantId, conversationId, { ...cut, heldUserIds: [...holds.users].sort() }, token);
      if (!page) return;
      tally.messages += page.messagesExpired;
      tally.heldMessages += page.messagesHeld;
      for (const id of page.mediaIds) media.add(id);
      token = page.next;
    } while (token);
    const ids = [...media];
    for (let i = 0; i < ids.length; i += MEDIA_BATCH) tally.media += await this.deps.parts.expireMedia(tenantId, ids.slice(i, i + MEDIA_BATCH), cut.dryRun);
  }

  private async audit(scope: TenantScope, opts: { actor: RunActor; conversationId?: string; correlationId?: string }, tally: RetentionTally, nowMs: number): Promise<void> {
    const details: Record<string, string> = {
      messages: String(tally.messages),
      media: String(tally.media),
      conversations: String(tally.conversations),
      held_conversations: String(tally.heldConversations),
      held_messages: String(tally.heldMessages),
      exports: String(tally.exports),
    };
    await this.deps.appender.append(scope, {
      sourceEventId: `retention:${randomUUID()}`,
      source: COMPLIANCE_SOURCE,
      eventTimeMs: nowMs,
      actor: opts.actor,
      action: "compliance.retention.run",
      target: opts.conversationId ? { type: "conversation", id: opts.conversationId, conversationId: opts.conversationId } : { type: "tenant", id: scope.tenantId },
      outcome: AuditOutcome.SUCCESS,
      correlationId: opts.correlationId ?? "",
      details,
    });
  }
}
