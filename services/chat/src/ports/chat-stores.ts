import type { EventLogStore } from "@caas/shared/eventing/log";
import type { MentionStore } from "./mention-store.js";
import type { BlockStore } from "./block-store.js";
import type { ModerationStore } from "./moderation-store.js";
import type { ChatStateStore } from "./chat-state-store.js";
import type { ProjectionStateStore } from "../projections/projection-state-store.js";
import type { ConversationStore } from "./conversation-store.js";
import type { InviteStore } from "./invite-store.js";
import type { MemberStore } from "./member-store.js";
import type { MessageMarkStore } from "./message-mark-store.js";
import type { ReadStateStore } from "./read-state-store.js";
import type { DataKeyStore } from "./data-key-store.js";

/** Every store of one chat instance, on one backend. */
export interface ChatStores {
  /** The conversation event log: the commit point (services/shared eventlog). */
  events: EventLogStore;
  conversations: ConversationStore;
  members: MemberStore;
  readStates: ReadStateStore;
  invites: InviteStore;
  /** Reactions, pins and edits per message: a projection of the log (ADR 0018). */
  marks: MessageMarkStore;
  /** Where the projector stands per conversation, and the projections' version (ADR 0021). */
  projections: ProjectionStateStore;
  /** Per-user mention records (mention counts). */
  mentions: MentionStore;
  /** Mutes and bans per conversation (a projection of the log, read uncached on the write path). */
  moderation: ModerationStore;
  /** User-to-user blocks. */
  blocks: BlockStore;
  state: ChatStateStore;
  /** The tenants' data keys (wrapped) that encrypt message bodies at rest (ADR 0120). */
  dataKeys: DataKeyStore;
  /**
   * Makes bytes that erasure deleted or redacted unrecoverable from the files: on SQLite (opened
   * with secure_delete, so freed space is zeroed) a WAL checkpoint that truncates the WAL, whose
   * older frames still hold the pages as they were; nothing on MongoDB (the server's storage).
   */
  scrub(): Promise<void>;
  /** Deletes a deleted tenant's rows (documents), a page at a time: tenant deletion, after its keys are shredded. */
  tenantRows: TenantRowEraser;
  /** Closes the stores, then the connection they share. Idempotent. */
  close(): Promise<void>;
}

/** Removes a tenant's rows from every chat table or collection that holds them, but its data keys (whose record says they were shredded). */
export interface TenantRowEraser {
  /** Deletes at most `limit` of the tenant's rows per table (collection); `more` when a table may hold some still. Idempotent. */
  eraseTenantRows(tenantId: string, limit: number): Promise<{ removed: number; more: boolean }>;
}

/** The chat stores built straight on an open, migrated database (all but the event log, the projection state and the data keys, which migrate themselves). */
export type ChatTableStores = Omit<ChatStores, "events" | "projections" | "dataKeys" | "close" | "scrub" | "tenantRows">;
