import { createHmac, timingSafeEqual } from "node:crypto";
import { InvalidArgumentError } from "./errors.js";

/** What a page token is bound to: the tenant it was issued for and a canonical query string. */
export interface PageTokenBinding {
  tenantId: string;
  /** Canonical form of the list query (filters, order); a token is only valid for the same one. */
  query: string;
}

/**
 * Opaque keyset page tokens (AIP-158). The token carries the last key of the page, signed with
 * HMAC-SHA256 over the tenant and the query, so a client cannot forge a key, replay a token under
 * another tenant, or reuse it with different filters: all of those get INVALID_ARGUMENT.
 */
export class PageTokenCodec {
  constructor(private readonly secret: Buffer) {
    if (secret.length < 16) throw new Error("page token secret must be at least 16 bytes");
  }

  encode<K>(binding: PageTokenBinding, key: K): string {
    const payload = Buffer.from(JSON.stringify({ v: 1, k: key }), "utf8").toString("base64url");
    return `${payload}.${this.mac(binding, payload)}`;
  }

  /** The key inside `token`; "" (first page) gives undefined. */
  decode<K>(binding: PageTokenBinding, token: string): K | undefined {
    if (token === "") return undefined;
    const bad = () => new InvalidArgumentError("page_token is not valid for this query", [{ field: "page_token", description: "not issued for this query, or altered" }]);
    const [payload, mac, extra] = token.split(".");
    if (!payload || !mac || extra !== undefined) throw bad();
    const expected = Buffer.from(this.mac(binding, payload), "base64url");
    const given = Buffer.from(mac, "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad();
    try {
      const parsed = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { v: number; k: K };
      if (parsed.v !== 1) throw bad();
      return parsed.k;
    } catch {
      throw bad();
    }
  }

  private mac(binding: PageTokenBinding, payload: string): string {
    return createHmac("sha256", this.secret)
      .update(`${binding.tenantId.length}:${binding.tenantId}|${binding.query.length}:${binding.query}|${payload}`)
      .digest()
      .subarray(0, 16)
      .toString("base64url");
  }
}
