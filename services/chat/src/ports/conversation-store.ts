import type { JsonObject } from "@bufbuild/protobuf";
import type { TenantScope } from "@caas/shared/tenant-scope";

/** Kind of conversation, fixed at creation (caas.chat.v1.ConversationType). */
export type ConversationKind = "direct" | "group" | "channel";

/** Who may join (caas.chat.v1.JoinPolicy). */
export type JoinPolicyKind = "open" | "invite_only" | "closed";

/** The newest top-level message of a conversation, for conversation lists. */
export interface MessageSummaryRecord {
  messageId: string;
  seq: number;
  senderId: string;
  /** The first 200 characters of the text. */
  textPreview: string;
  attachmentCount: number;
  createTimeMs: number;
  /** The message was deleted for everyone (the preview is then empty). */
  deleted?: boolean;
}

/** What CreateConversation stores. */
export interface NewConversation {
  /** UUIDv7. */
  id: string;
  kind: ConversationKind;
  title: string;
  /** "" when none. */
  avatarUrl: string;
  custom?: JsonObject;
  createdBy: string;
  createTimeMs: number;
  joinPolicy: JoinPolicyKind;
  /** End-to-end encrypted (fixed at creation): messages are ciphertext only. Absent means false. */
  e2ee?: boolean;
  /**
   * DIRECT conversations only: the deterministic key of the pair of users (`directKey`), unique
   * per tenant, so two concurrent creations of one pair end with one conversation.
   */
  directKey?: string;
}

/**
 * A conversation as stored: its own fields plus a projection of its event log (head, countable
 * counter, activity times, last message) that writers move forward after each commit.
 */
export interface ConversationRecord extends NewConversation {
  updateTimeMs: number;
  archived: boolean;
  frozen: boolean;
  /** Seq of the newest event the projection has seen (the log itself is the store of record). */
  lastSeq: number;
  /** Countable messages up to lastSeq. */
  countableSeq: number;
  /** Commit time of the newest message or membership change (ListConversations orders by it). */
  activityMs: number;
  /** Commit time of the newest event of any kind (GetChanges selects by it). */
  changeMs: number;
  lastMessage?: MessageSummaryRecord;
  /** Seq of the newest settings event (update, archive, unarchive) applied to the fields above. */
  settingsSeq: number;
  /** Seq of the ConversationDeleted event; 0 while the conversation exists. */
  deletedSeq: number;
}

/**
 * A change of a conversation's own fields, committed to its log at `seq`. Only the fields set
 * change; `custom: null` clears the custom data.
 */
export interface SettingsChange {
  seq: number;
  timeMs: number;
  title?: string;
  avatarUrl?: string;
  custom?: JsonObject | null;
  joinPolicy?: JoinPolicyKind;
  archived?: boolean;
  /** FreezeConversation / UnfreezeConversation (moderation). */
  frozen?: boolean;
  /** Marks the conversation deleted at `seq` (for good: nothing undeletes it). */
  deleted?: boolean;
}

/** One committed event, as the conversation projection needs it. */
export interface EventSummary {
  seq: number;
  countableSeq: number;
  timeMs: number;
  /** Messages and membership changes move `activityMs`; every event moves `changeMs`. */
  activity: boolean;
  /** Set for top-level messages: becomes `lastMessage` unless a newer one is there. */
  lastMessage?: MessageSummaryRecord;
}

/** Keyset position in activity order (newest first). */
export interface ActivityKey {
  activityMs: number;
  id: string;
}

/** Keyset position in change order (oldest first). */
export interface ChangeKey {
  changeMs: number;
  id: string;
}

export interface ActivityQuery {
  /** Only these conversations (the caller's memberships); at most 10 000. */
  ids: string[];
  /** Only conversations strictly after this key in (activityMs desc, id desc) order. */
  after?: ActivityKey;
  kind?: ConversationKind;
  includeArchived: boolean;
  /** 1..1000. */
  limit: number;
}

export interface ChangeQuery {
  /** Only these conversations (the caller's memberships); at most 10 000. */
  ids: string[];
  /** Only conversations whose changeMs is greater; all when omitted. */
  changedAfterMs?: number;
  /** Only conversations strictly after this key in (changeMs asc, id asc) order. */
  after?: ChangeKey;
  /** 1..1000. */
  limit: number;
}

/** Keyset page of a tenant-wide scan (ScanConversations). */
export interface ScanQuery {
  /** Only conversations whose id is strictly greater; from the first when omitted. */
  afterId?: string;
  /** 1..1000. */
  limit: number;
}

/**
 * Conversations of a tenant. Every method is scoped to one tenant; another tenant's ids are
 * simply not found.
 */
export interface ConversationStore {
  /**
   * Stores a new conversation. A DIRECT conversation whose pair already has one is not created:
   * the existing one comes back with `created: false` (also under concurrent creations, through a
   * unique index on (tenant, directKey)).
   */
  create(scope: TenantScope, conversation: NewConversation): Promise<{ created: boolean; conversation: ConversationRecord }>;

  get(scope: TenantScope, id: string): Promise<ConversationRecord | undefined>;

  /** The conversations of `ids` that exist, in no particular order. At most 1000 ids. */
  getMany(scope: TenantScope, ids: string[]): Promise<ConversationRecord[]>;

  /**
   * Moves the log projection forward to a committed event. Every field only moves forward
   * (lastSeq, countableSeq and the times are maxima; lastMessage is replaced only by a newer
   * seq), so calls may come in any order, twice, or from several instances. Unknown ids are
   * ignored.
   */
  recordEvent(scope: TenantScope, id: string, event: EventSummary): Promise<void>;

  /**
   * Delete for everyone: when `lastMessage` is the message at one of `seqs` (at most 1000: a
   * page of deleted messages), its preview is emptied and it is flagged deleted; otherwise
   * nothing changes. Idempotent. Unknown ids are ignored.
   */
  redactLastMessage(scope: TenantScope, id: string, seqs: number[]): Promise<void>;

  /**
   * Re-encryption: replaces the stored preview text of `lastMessage` when it is still the message
   * at `seq` and not deleted; otherwise nothing changes (a newer message or a deletion wins).
   * Unknown ids are ignored.
   */
  replacePreview(scope: TenantScope, id: string, seq: number, textPreview: string): Promise<void>;

  /**
   * Projection rebuild (ADR 0021): forgets the last message and moves `activityMs` back to the
   * creation time, so replaying the log sets both again from scratch. The counters (lastSeq,
   * countableSeq, changeMs) are kept: they are maxima a replay reaches anyway. Unknown ids are ignored.
   */
  resetLastMessage(scope: TenantScope, id: string): Promise<void>;

  /**
   * Applies a settings event: the fields change only when `seq` is newer than the last applied
   * settings event, so replays and out-of-order calls change nothing; `deleted` always sticks
   * (the first deletion seq is kept). Unknown ids are ignored.
   */
  applySettings(scope: TenantScope, id: string, change: SettingsChange): Promise<void>;

  /** ListConversations: newest activity first (deleted conversations never appear), ties by id descending. */
  listByActivity(scope: TenantScope, query: ActivityQuery): Promise<ConversationRecord[]>;

  /** GetChanges: oldest change first, ties by id ascending. */
  listByChange(scope: TenantScope, query: ChangeQuery): Promise<ConversationRecord[]>;

  /**
   * ScanConversations (projection rebuilds, retention sweeps): every conversation of the tenant
   * not deleted, in ascending id order, after `afterId`. Keyset paging: conversations created or
   * deleted during a scan may or may not appear, the others appear exactly once.
   */
  scan(scope: TenantScope, query: ScanQuery): Promise<ConversationRecord[]>;

  close(): Promise<void>;
}
