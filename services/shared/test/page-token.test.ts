import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../src/errors.js";
import { PageTokenCodec } from "../src/page-token.js";

const codec = new PageTokenCodec(randomBytes(32));
const binding = { tenantId: "tenant-a", query: "conversations:mine:order=activity" };

describe("PageTokenCodec", () => {
  it("round-trips a keyset position", () => {
    const token = codec.encode(binding, { seq: 42, id: "0190" });
    expect(codec.decode(binding, token)).toEqual({ seq: 42, id: "0190" });
    expect(codec.decode(binding, "")).toBeUndefined();
  });

  it("is bound to the tenant", () => {
    const token = codec.encode(binding, { seq: 1 });
    expect(() => codec.decode({ ...binding, tenantId: "tenant-b" }, token)).toThrow(InvalidArgumentError);
  });

  it("is bound to the query", () => {
    const token = codec.encode(binding, { seq: 1 });
    expect(() => codec.decode({ ...binding, query: "conversations:mine:order=title" }, token)).toThrow(/page_token/);
  });

  it("rejects altered and garbage tokens", () => {
    const token = codec.encode(binding, { seq: 1 });
    const [payload, mac] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ v: 1, k: { seq: 999 } })).toString("base64url");
    for (const bad of [`${forged}.${mac}`, `${payload}.AAAA`, "garbage", `${token}.x`, "."]) {
      expect(() => codec.decode(binding, bad)).toThrow(InvalidArgumentError);
    }
  });

  it("is opaque", () => {
    const token = codec.encode(binding, { userId: "alice" });
    expect(token).not.toContain("alice");
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });
});
