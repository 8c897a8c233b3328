import { InvalidArgumentError } from "@caas/shared/errors";
import { PageTokenCodec, type PageTokenBinding } from "@caas/shared/page-token";

/** page_size 0 means this many (AIP-158, as the protos document). */
export const DEFAULT_PAGE_SIZE = 50;

/** The binding of platform-plane lists (tenants), which belong to no tenant. */
export const PLATFORM_BINDING_TENANT = "~platform";

/**
 * Keyset paging over a store list: reads one row more than the page to know whether another
 * page follows, and encodes the last key in an opaque token bound to the tenant and the query.
 */
export class Pager {
  private readonly codec: PageTokenCodec;

  constructor(secret: Buffer) {
    this.codec = new PageTokenCodec(secret);
  }

  /** The key a page token carries (undefined for the first page); INVALID_ARGUMENT if forged or reused elsewhere. */
  after(binding: PageTokenBinding, token: string): string | undefined {
    const key = this.codec.decode<unknown>(binding, token);
    if (key !== undefined && typeof key !== "string") {
      throw new InvalidArgumentError("page_token is not valid for this query", [{ field: "page_token", description: "malformed" }]);
    }
    return key;
  }

  /** Reads a page through `read(limit)` (which returns rows after the token's key) and builds the next token. */
  async page<R>(binding: PageTokenBinding, pageSize: number, read: (limit: number) => Promise<R[]>, keyOf: (row: R) => string): Promise<{ rows: R[]; nextPageToken: string }> {
    const size = pageSize > 0 ? pageSize : DEFAULT_PAGE_SIZE;
    const rows = await read(size + 1);
    if (rows.length <= size) return { rows, nextPageToken: "" };
    const shown = rows.slice(0, size);
    return { rows: shown, nextPageToken: this.codec.encode(binding, keyOf(shown[shown.length - 1]!)) };
  }
}
