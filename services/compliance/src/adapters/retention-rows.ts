import type { LegalHoldRecord, RetentionPolicyRecord } from "../ports/retention-store.js";

const KINDS = new Set(["user", "conversation", "tenant"]);

/** The unique key that allows one active hold per tenant, kind and target. */
export function activeKeyOf(hold: Pick<LegalHoldRecord, "id" | "kind" | "targetId" | "releaseTimeMs">): string {
  return hold.releaseTimeMs > 0 ? `released|${hold.id}` : `${hold.kind}|${hold.targetId}`;
}

/** Refuses holds no adapter stores (a programming error, not bad input). */
export function checkHold(tenantId: string, hold: LegalHoldRecord): void {
  if (hold.tenantId !== tenantId) throw new RangeError("the hold belongs to another tenant than the scope");
  if (hold.id.length === 0) throw new RangeError("a hold needs an id");
  if (!KINDS.has(hold.kind)) throw new RangeError(`unknown hold kind ${hold.kind}`);
  if ((hold.kind === "tenant") !== (hold.targetId === "")) throw new RangeError("a tenant hold has no target; other holds need one");
}

/** Refuses policies no adapter stores (a programming error, not bad input). */
export function checkPolicy(tenantId: string, policy: RetentionPolicyRecord): void {
  if (policy.tenantId !== tenantId) throw new RangeError("the policy belongs to another tenant than the scope");
  if (policy.conversationId !== "" && policy.exportMaxAgeMs !== 0) throw new RangeError("only a tenant policy sets an export archive age");
  for (const age of [policy.messageMaxAgeMs, policy.mediaMaxAgeMs, policy.exportMaxAgeMs]) {
    if (!Number.isSafeInteger(age) || age < 0) throw new RangeError("a maximum age is a whole number of milliseconds, 0 for none");
  }
}
