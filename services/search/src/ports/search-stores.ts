import type { Cache } from "./cache.js";
import type { SearchIndex } from "./search-index.js";
import type { UserDirectory } from "./user-directory.js";

/** The largest cached value: a user's list of readable conversations (up to 10 000 of them). */
export const CACHE_MAX_VALUE_BYTES = 2 * 1024 * 1024;

/** What the search service keeps its data in, and how to let go of it. */
export interface SearchStores {
  index: SearchIndex;
  cache: Cache;
  directory: UserDirectory;
  /** How long after a write the index makes it searchable (see MessageIndexer). */
  visibilityDelayMs: number;
  close(): Promise<void>;
}
