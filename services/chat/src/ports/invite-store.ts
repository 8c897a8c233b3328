import type { TenantScope } from "@caas/shared/tenant-scope";

/** A shareable invite into a GROUP or CHANNEL (caas.chat.v1.Invite), as stored. */
export interface InviteRecord {
  /** UUIDv7. */
  id: string;
  conversationId: string;
  /** SHA-256 of the code (base64url): the code itself is never stored. Unique per tenant. */
  codeHash: string;
  createdBy: string;
  createTimeMs: number;
  expireTimeMs: number;
  /** How many users may join with it; 0 for no limit. */
  maxUses: number;
  /** 0 while not revoked. */
  revokeTimeMs: number;
}

/** What `claim` did. */
export type ClaimResult = "claimed" | "already" | "exhausted";

/**
 * Invites of a tenant and who used them. Every method is scoped to one tenant; another tenant's
 * ids and codes are simply not found.
 */
export interface InviteStore {
  /** Stores a new invite (revokeTimeMs 0). A RangeError if the id or code hash exists. */
  create(scope: TenantScope, invite: InviteRecord): Promise<void>;

  get(scope: TenantScope, id: string): Promise<InviteRecord | undefined>;

  byCodeHash(scope: TenantScope, codeHash: string): Promise<InviteRecord | undefined>;

  /** Revokes (the first revocation time sticks) and returns the invite; undefined if unknown. */
  revoke(scope: TenantScope, id: string, timeMs: number): Promise<InviteRecord | undefined>;

  /**
   * Records that `userId` joined with the invite: `already` if they did before (no use is
   * taken), `exhausted` when maxUses users used it. Exact under concurrency, also across
   * instances: a use takes a numbered slot through a unique insert (no conditional updates).
   */
  claim(scope: TenantScope, invite: Pick<InviteRecord, "id" | "maxUses">, userId: string, timeMs: number): Promise<ClaimResult>;

  /** How many users used the invite. */
  useCount(scope: TenantScope, id: string): Promise<number>;

  close(): Promise<void>;
}
