import { describe, expect, it } from "vitest";
import { isId } from "@caas/shared/ids";
import { canonicalJson, payloadHash, systemKey } from "../src/domain/events.js";
import { MAX_MESSAGE_SEQ, messageIdFor, seqOfMessageId } from "../src/domain/message-ids.js";
import { directKey, mayAddMembers, mayAddWithRole, mayChangeRole, mayRemove, maySend } from "../src/domain/rules.js";

describe("message ids", () => {
  it("are UUIDv7 carrying the commit time and the seq", () => {
    const t = Date.UTC(2026, 4, 1, 12);
    for (const seq of [1, 2, 255, 256, 65_537, 123_456_789, MAX_MESSAGE_SEQ]) {
      const id = messageIdFor(seq, t);
      expect(isId(id)).toBe(true);
      expect(seqOfMessageId(id)).toBe(seq);
      expect(seqOfMessageId(id.toUpperCase())).toBe(seq);
      expect(Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16)).toBe(t);
    }
    expect(messageIdFor(7, t)).not.toBe(messageIdFor(7, t));
    expect(() => messageIdFor(0, t)).toThrow(RangeError);
    expect(() => messageIdFor(MAX_MESSAGE_SEQ + 1, t)).toThrow(RangeError);
    expect(seqOfMessageId("not-an-id")).toBeUndefined();
    expect(seqOfMessageId("0190d2a4-5b6c-4d8e-9f01-23456789abcd")).toBeUndefined();
    expect(seqOfMessageId("0190d2a4-5b6c-7d8e-9f01-230000000000")).toBeUndefined();
  });
});

describe("payload hashing and system keys", () => {
  it("hashes equal payloads equally whatever the key order", () => {
    expect(canonicalJson({ b: [1, { y: 2, x: null }], a: "s", u: undefined })).toBe('{"a":"s","b":[1,{"x":null,"y":2}]}');
    expect(payloadHash({ text: "t", custom: { a: 1, b: 2 } })).toBe(payloadHash({ custom: { b: 2, a: 1 }, text: "t" }));
    expect(payloadHash({ text: "t" })).not.toBe(payloadHash({ text: "u" }));
  });

  it("makes system keys no client_message_id can equal", () => {
    const k = systemKey("member joined", "bob", 0);
    expect(k).toMatch(/^member joined [A-Za-z0-9_-]{32}$/);
    expect(/^[!-~]{1,64}$/.test(k)).toBe(false);
    expect(systemKey("member joined", "bob", 0)).toBe(k);
    expect(systemKey("member joined", "bob", 5)).not.toBe(k);
  });
});

describe("conversation roles", () => {
  it("follow the contract's rules", () => {
    expect(mayAddMembers("member", "invite_only")).toBe(false);
    expect(mayAddMembers("member", "open")).toBe(true);
    expect(mayAddMembers("admin", "closed")).toBe(true);
    expect(mayAddWithRole("admin", "admin")).toBe(false);
    expect(mayAddWithRole("owner", "admin")).toBe(true);
    expect(mayRemove("admin", "member")).toBe(true);
    expect(mayRemove("admin", "admin")).toBe(false);
    expect(mayRemove("owner", "owner")).toBe(true);
    expect(mayChangeRole("admin", "member", "admin")).toBe(true);
    expect(mayChangeRole("admin", "admin", "member")).toBe(false);
    expect(mayChangeRole("member", "member", "admin")).toBe(false);
    expect(maySend("channel", "member")).toBe(false);
    expect(maySend("group", "member")).toBe(true);
    expect(directKey("b", "a")).toBe(directKey("a", "b"));
  });
});
