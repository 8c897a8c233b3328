import type { LegalHoldRecord, RetentionPolicyRecord } from "../ports/retention-store.js";

/** Maximum ages in force (0: no limit). */
export interface Ages {
  messageMaxAgeMs: number;
  mediaMaxAgeMs: number;
}

/** The narrower of two ages, 0 meaning no limit. */
export function narrower(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}

/** What applies to a conversation: per kind, the narrower of the tenant's and the conversation's own age. */
export function effectiveAges(tenant: RetentionPolicyRecord | undefined, conversation: RetentionPolicyRecord | undefined): Ages {
  return {
    messageMaxAgeMs: narrower(tenant?.messageMaxAgeMs ?? 0, conversation?.messageMaxAgeMs ?? 0),
    mediaMaxAgeMs: narrower(tenant?.mediaMaxAgeMs ?? 0, conversation?.mediaMaxAgeMs ?? 0),
  };
}

/**
 * The tenant-level policy with auth's TenantSettings.message_retention folded in: the narrower
 * message age of the two (the setting alone makes a tenant policy of its own).
 */
export function withTenantSetting(tenantId: string, policy: RetentionPolicyRecord | undefined, settingMessageAgeMs: number): RetentionPolicyRecord | undefined {
  if (settingMessageAgeMs <= 0) return policy;
  const base = policy ?? { tenantId, conversationId: "", messageMaxAgeMs: 0, mediaMaxAgeMs: 0, exportMaxAgeMs: 0, updateTimeMs: 0 };
  return { ...base, messageMaxAgeMs: narrower(base.messageMaxAgeMs, settingMessageAgeMs) };
}

/** The cuts at `nowMs`: messages (media) created before these go; 0 where no age applies. */
export function cutsAt(ages: Ages, nowMs: number): { messageBeforeMs: number; mediaBeforeMs: number } {
  return {
    messageBeforeMs: ages.messageMaxAgeMs > 0 ? nowMs - ages.messageMaxAgeMs : 0,
    mediaBeforeMs: ages.mediaMaxAgeMs > 0 ? nowMs - ages.mediaMaxAgeMs : 0,
  };
}

/** A tenant's active holds, as the sweeps and erasures consult them. */
export interface HoldSet {
  tenant: boolean;
  users: Set<string>;
  conversations: Set<string>;
}

/** Groups active holds by what they hold (released ones are ignored). */
export function holdSetOf(holds: readonly LegalHoldRecord[]): HoldSet {
  const set: HoldSet = { tenant: false, users: new Set(), conversations: new Set() };
  for (const h of holds) {
    if (h.releaseTimeMs > 0) continue;
    if (h.kind === "tenant") set.tenant = true;
    else if (h.kind === "user") set.users.add(h.targetId);
    else set.conversations.add(h.targetId);
  }
  return set;
}
