import { InvalidArgumentError, type FieldViolation } from "@caas/shared/errors";
import type { PageTokenCodec, PageTokenBinding } from "@caas/shared/page-token";
import {
  SEARCH_MAX_BATCH,
  SEARCH_MAX_CONVERSATION_IDS,
  SEARCH_MAX_PAGE_SIZE,
  SEARCH_MAX_QUERY_LENGTH,
  SEARCH_MAX_QUERY_WORDS,
  SEARCH_MAX_SENDER_IDS,
  SEARCH_MAX_TEXT_LENGTH,
  SEARCH_SNIPPET_LENGTH,
  type HighlightRange,
  type SearchDocument,
  type SearchOrder,
  type SearchRequest,
  type Snippet,
} from "../ports/search-index.js";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { checkName, tenantOf } from "./checks.js";

/*
 * What the SearchIndex adapters share, so they accept, refuse, page and cut snippets exactly
 * alike (the contract suite checks that): argument checks, the page-token key, text clean-up,
 * diacritic folding, and snippets built from a fully highlighted text.
 */

const ID_MAX = 128;

/** Highlight markers the adapters ask their engine for; `cleanText` removes them from indexed text. */
export const MARK_OPEN = "\u0002";
export const MARK_CLOSE = "\u0003";

// C0 controls and DEL, except tab, line feed and carriage return.
const CONTROLS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

/** The text as it is indexed and stored: NFC, without control characters (nor the markers). */
export function cleanText(text: string): string {
  return text.normalize("NFC").replace(CONTROLS, "");
}

/**
 * Removes diacritics code point by code point ("Café" -> "Cafe"), keeping a code point as is
 * when its folded form would have another length, so offsets in the folded text are offsets in
 * the original. Used by engines that cannot fold themselves (Elasticsearch without
 * analysis-common); SQLite's unicode61 tokenizer folds with `remove_diacritics 2`.
 */
export function foldDiacritics(text: string): string {
  if (!/[^\u0000-\u007F]/.test(text)) return text;
  let out = "";
  for (const ch of text) {
    const base = ch.normalize("NFD").replace(/\p{M}+/gu, "");
    out += base.length === ch.length ? base : ch;
  }
  return out;
}

/** Documents checked (RangeError: a programming error of the indexer) with their text cleaned. */
export function checkDocs(docs: readonly SearchDocument[]): SearchDocument[] {
  if (!Array.isArray(docs) || docs.length > SEARCH_MAX_BATCH) {
    throw new RangeError(`index takes an array of at most ${SEARCH_MAX_BATCH} documents`);
  }
  // Array.isArray narrows a readonly array to any[]: the parameter types say what the items are.
  return docs.map((d: SearchDocument) => {
    checkName("messageId", d.messageId, ID_MAX);
    checkName("conversationId", d.conversationId, ID_MAX);
    checkName("senderId", d.senderId, ID_MAX);
    for (const [name, v] of [
      ["seq", d.seq],
      ["version", d.version],
    ] as const) {
      if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${String(v)}`);
    }
    if (d.version < d.seq) throw new RangeError(`version ${d.version} is below the message seq ${d.seq}`);
    if (!Number.isSafeInteger(d.createTimeMs) || d.createTimeMs < 0) {
      throw new RangeError(`createTimeMs must be a non-negative integer, got ${String(d.createTimeMs)}`);
    }
    if (d.redacted !== undefined && typeof d.redacted !== "boolean") throw new RangeError("redacted must be a boolean");
    if (d.hasAttachments !== undefined && typeof d.hasAttachments !== "boolean") throw new RangeError("hasAttachments must be a boolean");
    const redacted = d.redacted === true;
    if (typeof d.text !== "string") throw new RangeError("text must be a string");
    const text = redacted ? "" : cleanText(d.text);
    if (text.length > SEARCH_MAX_TEXT_LENGTH) throw new RangeError(`text is longer than ${SEARCH_MAX_TEXT_LENGTH} characters`);
    return { ...d, text, redacted, hasAttachments: !redacted && d.hasAttachments === true };
  });
}

/** Message ids for `remove`, deduplicated. */
export function checkMessageIds(ids: readonly string[]): string[] {
  if (!Array.isArray(ids) || ids.length > SEARCH_MAX_BATCH) {
    throw new RangeError(`remove takes an array of at most ${SEARCH_MAX_BATCH} message ids`);
  }
  return [...new Set(ids.map((id: string) => checkName("messageId", id, ID_MAX)))];
}

/** A batch size of `removeSender`: 1..SEARCH_MAX_BATCH. */
export function checkBatchLimit(limit: unknown): number {
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > SEARCH_MAX_BATCH) throw new RangeError(`limit must be 1..${SEARCH_MAX_BATCH}`);
  return limit;
}

/** The position of a hit in the result order: [score, createTimeMs, messageId] (score 0 in "newest" order). */
export type SearchKey = [score: number, createTimeMs: number, messageId: string];

/** A search request after validation, as the adapters run it. */
export interface CheckedSearch {
  tenantId: string;
  /** Query words (whitespace-separated, each with a letter or digit), in the order given. */
  words: string[];
  conversationIds: string[];
  /** Sorted and distinct; undefined for any sender. */
  senderIds: string[] | undefined;
  /** [conversationId, maxSeq] pairs sorted by id, for conversations with a bound. */
  maxSeqs: [string, number][];
  sentAfterMs: number | undefined;
  sentBeforeMs: number | undefined;
  hasAttachments: boolean | undefined;
  order: SearchOrder;
  pageSize: number;
  /** Where the page starts (exclusive); undefined for the first page. */
  after: SearchKey | undefined;
  /** Encodes the key of a page's last hit as the next page token. */
  tokenFor(key: SearchKey): string;
}

const isWord = (w: string) => /[\p{L}\p{N}]/u.test(w);
const isTime = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/**
 * Validates a search request (user input: InvalidArgumentError listing every bad field) and
 * decodes its page token, which is bound to the tenant and to everything that selects hits.
 */
export function checkSearch(scope: TenantScope, request: SearchRequest, pageTokens: PageTokenCodec): CheckedSearch {
  const tenantId = tenantOf(scope);
  const violations: FieldViolation[] = [];
  const bad = (field: string, description: string) => violations.push({ field, description });

  const query = typeof request.query === "string" ? request.query.trim() : "";
  const words = query.split(/\s+/u).filter(isWord);
  if (query.length === 0) bad("query", "must not be empty");
  else if (query.length > SEARCH_MAX_QUERY_LENGTH) bad("query", `must be at most ${SEARCH_MAX_QUERY_LENGTH} characters`);
  else if (words.length === 0) bad("query", "must contain a letter or digit");
  else if (words.length > SEARCH_MAX_QUERY_WORDS) bad("query", `must have at most ${SEARCH_MAX_QUERY_WORDS} words`);

  const ids = Array.isArray(request.conversationIds) ? request.conversationIds : [];
  if (ids.length === 0) bad("conversation_ids", "must name at least one conversation");
  else if (ids.length > SEARCH_MAX_CONVERSATION_IDS) bad("conversation_ids", `must name at most ${SEARCH_MAX_CONVERSATION_IDS} conversations`);
  else if (ids.some((id) => typeof id !== "string" || id.length === 0 || id.length > ID_MAX)) {
    bad("conversation_ids", `every id must be 1-${ID_MAX} characters`);
  }

  const { senderIds: senders, maxSeqs: bounds, sentAfterMs, sentBeforeMs, pageSize, hasAttachments } = request;
  const order = request.order ?? "relevance";
  if (order !== "relevance" && order !== "newest") bad("order", 'must be "relevance" or "newest"');
  if (hasAttachments !== undefined && typeof hasAttachments !== "boolean") bad("has_attachments", "must be a boolean");
  if (senders !== undefined) {
    if (!Array.isArray(senders) || senders.length === 0 || senders.length > SEARCH_MAX_SENDER_IDS) {
      bad("sender_ids", `must name 1-${SEARCH_MAX_SENDER_IDS} senders`);
    } else if (senders.some((id) => typeof id !== "string" || id.length === 0 || id.length > ID_MAX)) {
      bad("sender_ids", `every id must be 1-${ID_MAX} characters`);
    }
  }
  const maxSeqs: [string, number][] = [];
  if (bounds !== undefined) {
    const named = new Set(ids);
    for (const [id, seq] of Object.entries(bounds ?? {})) {
      if (!named.has(id) || !Number.isSafeInteger(seq) || seq < 0) {
        bad("max_seqs", "every bound must name a searched conversation and be a non-negative integer");
        break;
      }
      maxSeqs.push([id, seq]);
    }
    maxSeqs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
  if (sentAfterMs !== undefined && !isTime(sentAfterMs)) bad("sent_after_ms", "must be a non-negative integer");
  if (sentBeforeMs !== undefined && !isTime(sentBeforeMs)) bad("sent_before_ms", "must be a non-negative integer");
  if (isTime(sentAfterMs) && isTime(sentBeforeMs) && sentBeforeMs <= sentAfterMs) {
    bad("sent_before_ms", "must be later than sent_after_ms");
  }
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > SEARCH_MAX_PAGE_SIZE) {
    bad("page_size", `must be an integer from 1 to ${SEARCH_MAX_PAGE_SIZE}`);
  }
  if (request.pageToken !== undefined && typeof request.pageToken !== "string") bad("page_token", "must be a string");
  if (violations.length > 0) throw new InvalidArgumentError("invalid search request", violations);

  const conversationIds = [...new Set<string>(ids)].sort();
  const senderIds = senders === undefined ? undefined : [...new Set<string>(senders)].sort();
  const binding: PageTokenBinding = {
    tenantId,
    query: JSON.stringify(["search-index/v2", words.join(" "), conversationIds, senderIds ?? null, sentAfterMs ?? null, sentBeforeMs ?? null, maxSeqs, hasAttachments ?? null, order]),
  };
  const after = pageTokens.decode<unknown>(binding, request.pageToken ?? "");
  if (after !== undefined && !isSearchKey(after)) {
    throw new InvalidArgumentError("page_token is not valid for this query", [{ field: "page_token", description: "malformed" }]);
  }
  return {
    tenantId,
    words,
    conversationIds,
    senderIds,
    maxSeqs,
    sentAfterMs,
    sentBeforeMs,
    hasAttachments,
    order,
    pageSize,
    after,
    tokenFor: (key) => pageTokens.encode(binding, key),
  };
}

function isSearchKey(k: unknown): k is SearchKey {
  return Array.isArray(k) && k.length === 3 && typeof k[0] === "number" && Number.isFinite(k[0]) && isTime(k[1]) && typeof k[2] === "string";
}

/** The text and match ranges of a text highlighted with MARK_OPEN / MARK_CLOSE. */
export function parseMarked(marked: string): { text: string; ranges: HighlightRange[] } {
  let text = "";
  const ranges: HighlightRange[] = [];
  let start = -1;
  for (const part of marked.split(/([\u0002\u0003])/u)) {
    if (part === MARK_OPEN) start = text.length;
    else if (part === MARK_CLOSE) {
      if (start >= 0 && text.length > start) {
        const last = ranges[ranges.length - 1];
        if (last && last.end >= start) last.end = Math.max(last.end, text.length);
        else ranges.push({ start, end: text.length });
      }
      start = -1;
    } else text += part;
  }
  return { text, ranges };
}

const CONTEXT_BEFORE = 40;
const BOUNDARY_SLACK = 16;

/**
 * An excerpt of at most SEARCH_SNIPPET_LENGTH characters of `text` that starts a little before
 * the first match, cut at spaces where one is near, never inside a surrogate pair, with "…" where
 * text was left out; the ranges are moved into it (a range that does not fit is clipped or dropped).
 */
export function buildSnippet(text: string, ranges: readonly HighlightRange[]): Snippet {
  if (text.length <= SEARCH_SNIPPET_LENGTH) return { text, highlights: ranges.map((r) => ({ ...r })) };
  const anchor = ranges[0]?.start ?? 0;
  let start = Math.max(0, Math.min(anchor - CONTEXT_BEFORE, text.length - SEARCH_SNIPPET_LENGTH));
  if (start > 0 && !/\s/u.test(text[start - 1]!)) {
    const space = text.slice(start, Math.min(anchor, start + BOUNDARY_SLACK)).search(/\s\S/u);
    if (space >= 0) start += space + 1;
  }
  if (isLowSurrogate(text, start)) start++;
  let end = Math.min(text.length, start + SEARCH_SNIPPET_LENGTH);
  if (end < text.length) {
    const tail = text.slice(Math.max(start, end - BOUNDARY_SLACK), end + 1);
    const space = tail.search(/\s\S*$/u);
    if (space >= 0) end = Math.max(start, end - BOUNDARY_SLACK) + space;
  }
  if (end < text.length && isLowSurrogate(text, end)) end--;
  const prefix = start > 0 ? "…" : "";
  const body = text.slice(start, end);
  const shift = prefix.length - start;
  const highlights = ranges.filter((r) => r.end > start && r.start < end).map((r) => ({ start: Math.max(r.start, start) + shift, end: Math.min(r.end, end) + shift }));
  return { text: `${prefix}${body}${end < text.length ? "…" : ""}`, highlights };
}

function isLowSurrogate(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 0xdc00 && c <= 0xdfff;
}
