import type { TenantScope } from "@caas/shared/tenant-scope";

/** Most conversations one search may cover (the caller's ACL). */
export const SEARCH_MAX_CONVERSATION_IDS = 1000;
/** Most senders one search may name. */
export const SEARCH_MAX_SENDER_IDS = 20;
/** Longest query, in UTF-16 code units (after trimming). */
export const SEARCH_MAX_QUERY_LENGTH = 256;
/** Most whitespace-separated words in one query. */
export const SEARCH_MAX_QUERY_WORDS = 32;
/** Largest page; the smallest is 1. */
export const SEARCH_MAX_PAGE_SIZE = 100;
/** Most documents or ids in one `index` / `remove` call. */
export const SEARCH_MAX_BATCH = 1000;
/** Longest indexed text, in UTF-16 code units (the chat service caps messages well below). */
export const SEARCH_MAX_TEXT_LENGTH = 65_536;
/**
 * The index schema version this build writes: what a document holds and how it is analyzed.
 * Bump it when that changes; documents stored under an older version are rebuilt from chat's log
 * (`index` with `upgrade`) while the index stays searchable. 1: text, sender, times; 2: has-attachments.
 */
export const SEARCH_INDEX_SCHEMA_VERSION = 2;
/** Longest snippet text, in UTF-16 code units, not counting the "…" marks of a cut. */
export const SEARCH_SNIPPET_LENGTH = 160;

/**
 * One chat message as the search index holds it. `version` orders the states of one message:
 * it is the seq of the conversation event that produced this state (the create event for a new
 * message, the edit event for an edit, the delete event for a tombstone), so a replayed older
 * event can never overwrite a newer state.
 */
export interface SearchDocument {
  /** UUIDv7; unique within the tenant. 1-128 characters. */
  messageId: string;
  conversationId: string;
  /** The message's own seq (the seq of its create event). Positive integer. */
  seq: number;
  /** The seq of the event that produced this state of the message. Positive integer, >= seq. */
  version: number;
  senderId: string;
  /** Plain text, at most SEARCH_MAX_TEXT_LENGTH. Stored NFC-normalized, C0 controls (except tab and newlines) removed. */
  text: string;
  /** When the message was sent (commit time of its create event), ms since the epoch. */
  createTimeMs: number;
  /**
   * A tombstone (delete for everyone): nothing of the text is kept and it never matches, but
   * its version still blocks older states of the message (a late edit cannot resurrect it).
   */
  redacted?: boolean;
  /** The message carries at least one attachment (false when absent). */
  hasAttachments?: boolean;
}

/** Options of one `index` call. */
export interface IndexOptions {
  /**
   * Rebuilding under a new schema: a document whose version EQUALS the stored one may replace it
   * (it does when the stored one was written under an older schema version; equal versions carry
   * the same state). Lower versions are still refused, so a rebuild never resurrects a deleted or
   * older state.
   */
  upgrade?: boolean;
}

/** How far the stored documents are from this build's schema version (all tenants; operators). */
export interface SchemaStatus {
  /** Stored documents, tombstones included. */
  documents: number;
  /** Documents written under SEARCH_INDEX_SCHEMA_VERSION. */
  currentDocuments: number;
  /** The oldest schema version among stored documents; SEARCH_INDEX_SCHEMA_VERSION when none is older. */
  oldestVersion: number;
}

/** What one `index` call did. */
export interface IndexResult {
  /** Documents written (new, or newer than the stored version). */
  indexed: number;
  /** Documents skipped because the stored version was the same or newer (replays, out of order). */
  stale: number;
}

export interface SearchRequest {
  /**
   * Words to find, 1-SEARCH_MAX_QUERY_LENGTH characters with at least one letter or digit. Every
   * word must occur in a message (AND), as a whole word, case-insensitively; diacritics are folded
   * ("cafe" finds "café" and the reverse). Query syntax (quotes, operators, wildcards) has no
   * special meaning: it is matched as text.
   */
  query: string;
  /**
   * The caller's ACL, decided by the caller: only these conversations are searched. 1 to
   * SEARCH_MAX_CONVERSATION_IDS ids; order and duplicates do not matter.
   */
  conversationIds: readonly string[];
  /** Only messages by one of these senders (1 to SEARCH_MAX_SENDER_IDS ids); any sender when absent. */
  senderIds?: readonly string[];
  /**
   * Per conversation of `conversationIds`, the highest seq the caller may read (a former member
   * reads up to their departure): that conversation's messages with a higher seq are left out.
   * Conversations not named here have no bound. Keys must be among `conversationIds`.
   */
  maxSeqs?: Readonly<Record<string, number>>;
  /** Only messages sent at or after this time (ms since the epoch). */
  sentAfterMs?: number;
  /** Only messages sent before this time (exclusive). */
  sentBeforeMs?: number;
  /** Only messages with attachments (true) or without (false); any when absent. */
  hasAttachments?: boolean;
  /**
   * "relevance" (default): by score descending, then createTimeMs, then messageId, both
   * descending. "newest": by createTimeMs then messageId, both descending (scores still reported).
   */
  order?: SearchOrder;
  /** 1 to SEARCH_MAX_PAGE_SIZE. */
  pageSize: number;
  /** "" or absent for the first page; else the `nextPageToken` of the previous page. */
  pageToken?: string;
}

/** The orders `search` offers. */
export type SearchOrder = "relevance" | "newest";

/** A match inside a snippet: `text.slice(start, end)` is a matched word. UTF-16 offsets. */
export interface HighlightRange {
  start: number;
  end: number;
}

/**
 * An excerpt of the message around its first match, at most SEARCH_SNIPPET_LENGTH characters
 * plus a leading and/or trailing "…" where the text was cut. The ranges are explicit rather than
 * `<em>` tags so no client has to parse (or unsafely render) markup from user text.
 */
export interface Snippet {
  text: string;
  /** Ascending, non-overlapping. */
  highlights: HighlightRange[];
}

export interface SearchHit {
  messageId: string;
  conversationId: string;
  seq: number;
  senderId: string;
  createTimeMs: number;
  /** Relevance, higher is better; only comparable within one result list (0 when not computed). */
  score: number;
  snippet: Snippet;
}

export interface SearchPage {
  hits: SearchHit[];
  /** "" on the last page. */
  nextPageToken: string;
}

/**
 * Full-text search over chat messages, for the search service's indexer (a consumer of the
 * conversation event log) and its Search RPC.
 *
 * Tenancy: every document and every query carries the scope's tenant; a tenant never sees or
 * removes another tenant's documents, even with equal message or conversation ids. (Relevance
 * statistics such as term rarity may be computed over a shared index, so a score is not a
 * per-tenant quantity.)
 *
 * Visibility: a write is durable when its promise resolves, but a search is only guaranteed to
 * see it after a later `refresh` (cluster adapters make writes searchable about once a second on
 * their own). Read-your-writes callers and tests call `refresh`.
 *
 * Argument errors: a forged scope is a TypeError; bad documents or ids (programming errors of
 * the indexer) are RangeErrors; a bad search request (user input) is an InvalidArgumentError with
 * field violations. A backend failure is an UnavailableError; retrying the same call is safe.
 */
export interface SearchIndex {
  /**
   * Upserts documents by messageId, in array order, at most SEARCH_MAX_BATCH. Per message, a
   * document replaces the stored one only if its `version` is greater: an equal or lower version
   * is counted as `stale` and changes nothing, so replays and out-of-order delivery are harmless
   * and the call is idempotent (`options.upgrade` relaxes the rule for documents of an older
   * schema). Each document is stamped with SEARCH_INDEX_SCHEMA_VERSION. On a failure some
   * documents may have been applied; retry the call.
   */
  index(scope: TenantScope, docs: readonly SearchDocument[], options?: IndexOptions): Promise<IndexResult>;

  /**
   * Deletes messages by id (erasure, retention, delete for everyone), whatever their version,
   * tombstones included. Idempotent: unknown ids are ignored. Unlike a redacted tombstone it keeps
   * no version, so a later `index` of the same id is accepted again (a cluster adapter may still
   * refuse a version not above the deleted one for about a minute): use it when the log itself was
   * redacted or cut, so no older state can be replayed.
   */
  remove(scope: TenantScope, messageIds: readonly string[]): Promise<void>;

  /**
   * Deletes every document of one conversation (conversation deleted, tenant erasure). Idempotent.
   * Documents indexed concurrently with the call may survive: stop indexing the conversation first.
   */
  removeConversation(scope: TenantScope, conversationId: string): Promise<void>;

  /**
   * Deletes up to `limit` (1..SEARCH_MAX_BATCH) documents of messages `senderId` sent, tombstones
   * included (data-subject erasure), and returns how many it deleted: call again until fewer than
   * `limit`. Idempotent. Documents indexed concurrently may survive a call: erase the sender's
   * messages at the source first (their deletes then remove any late copy). Documents in the
   * conversations of `keep` (under a legal hold) are left in place.
   */
  removeSender(scope: TenantScope, senderId: string, limit: number, keep?: readonly string[]): Promise<number>;

  /**
   * One page of the messages matching `request`, in the request's `order` (both are total).
   * Pages are keyset-based: walking them returns every match exactly once while the index does
   * not change; under concurrent writes (which move relevance scores) a hit may repeat or be
   * skipped. The page token is bound to the tenant and to the query, conversations, sender and
   * time range, senders and seq bounds, attachment filter and order (not to pageSize); any other
   * use is an InvalidArgumentError on `page_token`.
   */
  search(scope: TenantScope, request: SearchRequest): Promise<SearchPage>;

  /**
   * Deletes up to `limit` (1..SEARCH_MAX_BATCH) documents of the scope's tenant, tombstones
   * included (tenant deletion), and returns how many it deleted: call again until fewer than
   * `limit`. Idempotent. Stop indexing the tenant first: documents indexed concurrently may survive.
   */
  removeTenant(scope: TenantScope, limit: number): Promise<number>;

  /** Documents by schema version, over all tenants (GetIndexStatus; no tenant data leaves). */
  schemaStatus(): Promise<SchemaStatus>;

  /**
   * Up to `limit` tenants holding documents written under an older schema version, for the
   * rebuild (which replays those tenants' conversations with `upgrade`). Operators only.
   */
  tenantsBelowSchema(limit: number): Promise<string[]>;

  /** Makes every write completed before the call visible to later searches. */
  refresh(scope: TenantScope): Promise<void>;

  /** Releases what the adapter opened (connections, an owned database). Idempotent. */
  close(): Promise<void>;
}
