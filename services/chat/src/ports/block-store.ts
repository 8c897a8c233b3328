import type { TenantScope } from "@caas/shared/tenant-scope";

/** `blockerId` blocked `blockedId` (per tenant; users of other tenants are other users). */
export interface BlockRecord {
  blockerId: string;
  blockedId: string;
  createTimeMs: number;
}

/** Keyset position in a blocker's list (newest first, ties by blocked id descending). */
export interface BlockKey {
  createTimeMs: number;
  blockedId: string;
}

/** User-to-user blocks: read uncached when a DIRECT conversation is created or written to. */
export interface BlockStore {
  /** Records a block. Idempotent: blocking again keeps the first record and returns it. */
  block(scope: TenantScope, record: BlockRecord): Promise<BlockRecord>;

  /** Removes a block; false when there was none. */
  unblock(scope: TenantScope, blockerId: string, blockedId: string): Promise<boolean>;

  /** Whether either user blocked the other. */
  between(scope: TenantScope, a: string, b: string): Promise<boolean>;

  /** The users `blockerId` blocked, newest first, after `after`, at most `limit` (1..1000). */
  list(scope: TenantScope, blockerId: string, query: { after?: BlockKey; limit: number }): Promise<BlockRecord[]>;

  close(): Promise<void>;
}
