import type { TenantScope } from "@caas/shared/tenant-scope";

/** One conversation of some tenant, as the full rebuild enumerates them. */
export interface ConversationRef {
  tenantId: string;
  conversationId: string;
}

/**
 * Where the chat projector stands (ADR 0021): per conversation, the seq of the last log event it
 * applied, and the version of the projections' shape the store was last rebuilt for. Positions
 * only move forward except through `reset` (a rebuild).
 */
export interface ProjectionStateStore {
  /** The last applied seq of a conversation; 0 when none. */
  position(scope: TenantScope, conversationId: string): Promise<number>;

  /** Records the last applied seq; a lower or equal seq changes nothing. */
  advance(scope: TenantScope, conversationId: string, seq: number): Promise<void>;

  /**
   * Moves a stored position forward (a lower or equal seq changes nothing) and never creates one:
   * false when the conversation has no stored position (none was written yet, a rebuild reset it,
   * or its tenant's rows were erased). What a write made later than the event uses (ADR 0215), so
   * that it cannot bring back a row the tenant's erasure removed in between.
   */
  moveExisting(scope: TenantScope, conversationId: string, seq: number): Promise<boolean>;

  /** Moves a conversation's position back to 0 (a rebuild replays its whole log). Idempotent. */
  reset(scope: TenantScope, conversationId: string): Promise<void>;

  /** The projections' version the store holds (0 before the first rebuild). Platform-level, not tenant data. */
  version(): Promise<number>;

  /** Records the projections' version after a full rebuild. */
  setVersion(version: number): Promise<void>;

  /**
   * Existing (not deleted) conversations of every tenant ordered by (tenant, id), strictly after
   * `after`, at most `limit` (1..1000): what a full rebuild walks. A platform operation.
   */
  conversations(after: ConversationRef | undefined, limit: number): Promise<ConversationRef[]>;

  close(): Promise<void>;
}
