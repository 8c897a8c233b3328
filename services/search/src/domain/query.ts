import { InvalidArgumentError } from "@caas/shared/errors";
import { SEARCH_MAX_PAGE_SIZE, SEARCH_MAX_QUERY_LENGTH, SEARCH_MAX_QUERY_WORDS } from "../ports/search-index.js";

/** The page size of a request: 0 means the default (20); the schema caps it at SEARCH_MAX_PAGE_SIZE. */
export function pageSizeOf(requested: number): number {
  if (!Number.isInteger(requested) || requested < 0 || requested > SEARCH_MAX_PAGE_SIZE) {
    throw new InvalidArgumentError("page_size is out of range", [{ field: "page_size", description: `must be 0..${SEARCH_MAX_PAGE_SIZE}` }]);
  }
  return requested === 0 ? 20 : requested;
}

/**
 * The words of a user's query, checked before anything is searched: an empty query, one without
 * a letter or digit (operators or punctuation only), one over `maxLength` characters or over
 * SEARCH_MAX_QUERY_WORDS words is INVALID_ARGUMENT on `query`. Words are whitespace-separated
 * runs containing a letter or digit; everything else in them is plain text, never syntax.
 */
export function queryWords(query: string, maxLength = SEARCH_MAX_QUERY_LENGTH): string[] {
  const bad = (description: string) => new InvalidArgumentError(`query ${description}`, [{ field: "query", description }]);
  const trimmed = query.trim();
  if (trimmed.length === 0) throw bad("must not be empty");
  if (trimmed.length > maxLength) throw bad(`must be at most ${maxLength} characters`);
  const words = trimmed.split(/\s+/u).filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length === 0) throw bad("must contain a letter or digit");
  if (words.length > SEARCH_MAX_QUERY_WORDS) throw bad(`must have at most ${SEARCH_MAX_QUERY_WORDS} words`);
  return words;
}

/** Lowercase, diacritics removed, for prefix matching of names ("Zoë" and "zoe" compare equal). */
export function foldForMatch(text: string): string {
  return text
    .normalize("NFD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase();
}

/** A word of `text` and where it starts. */
interface Word {
  start: number;
  end: number;
  folded: string;
}

function wordsOf(text: string): Word[] {
  const out: Word[] = [];
  for (const m of text.matchAll(/[\p{L}\p{N}]+/gu)) out.push({ start: m.index, end: m.index + m[0].length, folded: foldForMatch(m[0]) });
  return out;
}

/**
 * Whether every query word is a prefix of some word of `text` (case and diacritics folded),
 * and the matched prefixes as UTF-16 ranges of `text`; undefined when it does not match.
 */
export function prefixMatch(text: string, query: readonly string[]): { start: number; end: number }[] | undefined {
  const words = wordsOf(text);
  const ranges: { start: number; end: number }[] = [];
  for (const q of query) {
    const needle = foldForMatch(q).replace(/[^\p{L}\p{N}]+/gu, "");
    if (needle === "") continue;
    const hit = words.find((w) => w.folded.startsWith(needle));
    if (!hit) return undefined;
    // Folding keeps one character per base letter for the common cases; clamp to the word.
    ranges.push({ start: hit.start, end: Math.min(hit.end, hit.start + needle.length) });
  }
  ranges.sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: { start: number; end: number }[] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  return merged;
}
