import { createHmac, hkdfSync, randomBytes } from "node:crypto";
import { clone } from "@bufbuild/protobuf";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { AuditActorKind, AuditEventSchema, AuditSubjectForm, type AuditEvent } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import type { AuditDraft } from "./audit-appender.js";
import type { AuditSubjectStore } from "./ports/audit-subjects.js";

/** The prefix of every audit pseudonym. */
export const PSEUDONYM_PREFIX = "psn_";

/** Detail keys whose values are user ids (pseudonymised like the actor and a "user" target). */
export const USER_ID_DETAILS: readonly string[] = ["owner_id", "sender_id", "user_id"];

/** The key of subject hashes (what links and erasure markers are stored under), derived from the service-secret root (HKDF-SHA256). */
export function auditSubjectKey(serviceSecret: string): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(serviceSecret, "utf8"), "caas-compliance-v1", "audit-subject-key", 32));
}

/** The pseudonym a user key gives: HMAC-SHA256(key, tenant NUL user), 128 bits in hex. */
export function pseudonymOf(key: Uint8Array, tenantId: string, userId: string): string {
  return PSEUDONYM_PREFIX + createHmac("sha256", key).update(`${tenantId}\u0000${userId}`).digest("hex").slice(0, 32);
}

/**
 * Writes user ids into audit records as keyed pseudonyms and resolves them back while the link
 * exists. Each user gets a random key of their own, stored with the link apart from the chain;
 * erasure deletes the link, after which nothing (not even the service secret) ties the
 * pseudonym to the user, while every chained byte stays as it was. A record about a user erased
 * after its event happened (a late bus delivery) gets a one-off random pseudonym and no link.
 */
export class AuditPseudonyms {
  constructor(private readonly opts: { store: AuditSubjectStore; subjectKey: Uint8Array; nowMs: () => number }) {}

  /**
   * The draft with every user id replaced by its pseudonym, and the subject form to record.
   * `linked` (user id to pseudonym) carries the links found across the drafts of one batch of the
   * tenant; a one-off pseudonym (a user erased after the event) is never put in it.
   */
  async pseudonymise(scope: TenantScope, draft: AuditDraft, linked = new Map<string, string>()): Promise<AuditDraft & { subjectForm: AuditSubjectForm }> {
    const ids = new Map<string, string>();
    const of = async (userId: string): Promise<string> => {
      // Every id, even one that looks like a pseudonym: user ids are chosen by tenants.
      if (!userId) return userId;
      let p = ids.get(userId) ?? linked.get(userId);
      if (p === undefined) {
        const found = await this.pseudonymFor(scope, userId, draft.eventTimeMs);
        if (found.linked) linked.set(userId, found.pseudonym);
        p = found.pseudonym;
      }
      ids.set(userId, p);
      return p;
    };
    const actor = draft.actor.kind === AuditActorKind.USER ? { ...draft.actor, id: await of(draft.actor.id) } : draft.actor;
    const target = draft.target.type === "user" ? { ...draft.target, id: await of(draft.target.id) } : draft.target;
    let details = draft.details;
    if (details) {
      details = { ...details };
      for (const key of USER_ID_DETAILS) if (details[key]) details[key] = await of(details[key]);
    }
    return { ...draft, actor, target, ...(details ? { details } : {}), subjectForm: AuditSubjectForm.PSEUDONYM };
  }

  /** The ids a filter on `userId` matches: the id itself (records made before pseudonyms) and its pseudonym while linked. */
  async idsOf(scope: TenantScope, userId: string): Promise<string[]> {
    const link = await this.linkOf(scope, userId);
    return link ? [userId, link.pseudonym] : [userId];
  }

  /** Copies of the records with linked pseudonyms replaced by the user ids (erased users keep their pseudonym). */
  async resolve(scope: TenantScope, events: readonly AuditEvent[]): Promise<AuditEvent[]> {
    const users = await this.usersIn(scope, events);
    if (users.size === 0) return [...events];
    const real = (id: string) => users.get(id) ?? id;
    return events.map((e) => {
      if (e.subjectForm !== AuditSubjectForm.PSEUDONYM) return e;
      const copy = clone(AuditEventSchema, e);
      if (copy.actor && copy.actor.kind === AuditActorKind.USER) copy.actor.id = real(copy.actor.id);
      if (copy.target && copy.target.type === "user") copy.target.id = real(copy.target.id);
      for (const d of copy.details) if (USER_ID_DETAILS.includes(d.key)) d.value = real(d.value);
      return copy;
    });
  }

  /** Pseudonym to user id of the linked pseudonyms in the records (for exports, which keep the chained form). */
  async usersIn(scope: TenantScope, events: readonly AuditEvent[]): Promise<Map<string, string>> {
    const found = new Set<string>();
    for (const e of events) {
      if (e.subjectForm !== AuditSubjectForm.PSEUDONYM) continue;
      if (e.actor?.id.startsWith(PSEUDONYM_PREFIX)) found.add(e.actor.id);
      if (e.target?.id.startsWith(PSEUDONYM_PREFIX)) found.add(e.target.id);
      for (const d of e.details) if (d.value.startsWith(PSEUDONYM_PREFIX)) found.add(d.value);
    }
    return found.size === 0 ? new Map() : this.opts.store.usersOf(scope, [...found]);
  }

  /** Unlinks an erased user from their records: the link and its key are destroyed and a marker keeps late records unlinked. */
  async forget(scope: TenantScope, userId: string): Promise<boolean> {
    return this.opts.store.forgetSubject(scope, this.subject(scope, userId), this.opts.nowMs());
  }

  /** The user's link, while it exists. */
  linkOf(scope: TenantScope, userId: string) {
    return this.opts.store.subjectOf(scope, this.subject(scope, userId));
  }

  private async pseudonymFor(scope: TenantScope, userId: string, eventTimeMs: number): Promise<{ pseudonym: string; linked: boolean }> {
    const subject = this.subject(scope, userId);
    const link = await this.opts.store.subjectOf(scope, subject);
    if (link) return { pseudonym: link.pseudonym, linked: true };
    const erased = await this.opts.store.erasedAt(scope, subject);
    // An event from before the user's erasure, delivered late: it must not link them again.
    if (erased !== undefined && eventTimeMs <= erased) return { pseudonym: PSEUDONYM_PREFIX + randomBytes(16).toString("hex"), linked: false };
    const key = randomBytes(32);
    const made = await this.opts.store.linkSubject(scope, subject, { userId, pseudonym: pseudonymOf(key, scope.tenantId, userId), key, createTimeMs: this.opts.nowMs() });
    return { pseudonym: made.pseudonym, linked: true };
  }

  /** HMAC-SHA256 of tenant NUL user under the subject key: what a link and a marker are stored under. */
  private subject(scope: TenantScope, userId: string): string {
    return createHmac("sha256", this.opts.subjectKey).update(`${scope.tenantId}\u0000${userId}`).digest("hex");
  }
}
