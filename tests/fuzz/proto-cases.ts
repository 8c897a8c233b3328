import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/** A seeded PRNG (mulberry32): the same seed gives the same cases, so a failure can be replayed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

const INT32 = [0, 1, -1, 127, 128, 2147483647, -2147483648, 1000, 100000];
const INT64 = ["0", "1", "-1", "9223372036854775807", "-9223372036854775808", "4294967296", "1700000000000"];
const UINT64 = ["0", "1", "18446744073709551615", "9223372036854775808"];
const DOUBLES = [0, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e308, -1e-308];
const STRINGS = ["", "a", " ", "nobody-here", "' OR 1=1 --", "../../etc/passwd", '{"$where":"1"}', "\u0000", "\u202eevil", "😀".repeat(40), "a|b", "%00", "https://x.test/a", "ann", "bob"];
/** Byte sequences that are not UTF-8 (lone continuation, overlong, surrogate, truncated). */
const BAD_UTF8 = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80, 0x80, 0x41]];

/** What kinds of hostile input a case carries (counted in the run's summary). */
export type CaseKind = "generated" | "wrong-wire-type" | "invalid-utf8" | "huge-repeated" | "deep-nesting" | "random-bytes" | "mutated" | "empty" | "group-bomb";

/**
 * Builds request bytes for a message type straight on the wire format, so it can also write what
 * a well-behaved encoder never would: wrong wire types, invalid UTF-8 in strings, huge repeated
 * fields, nesting as deep as the type allows, unknown fields.
 */
export class MessageFuzzer {
  /** Values still to write in the current case: bounds huge lists inside deep nesting. */
  private budget = 0;
  /**
   * Bytes of long strings and byte values still to write in the current case. Half again the platform's
   * default 4 MiB read limit still tests oversized requests; without it a huge list of 100 kB byte
   * values made a 98 MB case whose generation blocked the fuzzer's process for 40 s.
   */
  private bigBytes = 0;
  constructor(private readonly rng: Rng) {}

  /** One case for `desc`: its bytes and the kinds of hostile input in it. */
  build(desc: DescMessage): { bytes: Uint8Array; kinds: Set<CaseKind> } {
    const kinds = new Set<CaseKind>();
    const r = this.rng;
    const roll = r.next();
    if (roll < 0.05) return { bytes: r.bytes(r.int(512)), kinds: new Set(["random-bytes"]) };
    if (roll < 0.07) return { bytes: new Uint8Array(0), kinds: new Set(["empty"]) };
    if (roll < 0.09) return { bytes: groupBomb(r.pick([100, 5_000, 200_000])), kinds: new Set(["group-bomb"]) };
    const w = new BinaryWriter();
    this.budget = 100_000;
    this.bigBytes = 6 * 1024 * 1024;
    this.message(desc, w, 0, kinds, r.chance(0.1) ? 64 : 4);
    let bytes: Uint8Array = w.finish();
    if (kinds.size === 0) kinds.add("generated");
    if (r.chance(0.1)) {
      bytes = mutate(r, bytes);
      kinds.add("mutated");
    }
    return { bytes, kinds };
  }

  private message(desc: DescMessage, w: BinaryWriter, depth: number, kinds: Set<CaseKind>, maxDepth: number): void {
    const r = this.rng;
    if (depth >= 8) kinds.add("deep-nesting");
    for (const field of desc.fields) {
      if (this.budget <= 0 || !r.chance(depth === 0 ? 0.7 : 0.4)) continue;
      this.budget--;
      if (r.chance(0.04)) {
        this.wrongWireType(field, w);
        kinds.add("wrong-wire-type");
        continue;
      }
      this.field(field, w, depth, kinds, maxDepth);
    }
    if (r.chance(0.05)) w.tag(1000 + r.int(10000), WireType.LengthDelimited).bytes(r.bytes(r.int(64)));
  }

  private field(field: DescField, w: BinaryWriter, depth: number, kinds: Set<CaseKind>, maxDepth: number): void {
    const r = this.rng;
    switch (field.fieldKind) {
      case "scalar":
        this.scalar(field.number, field.scalar, w, kinds);
        return;
      case "enum":
        w.tag(field.number, WireType.Varint).int32(this.enumValue(field.enum.values.map((v) => v.number)));
        return;
      case "message":
        if (depth < maxDepth) this.nested(field.number, field.message, w, depth, kinds, maxDepth);
        return;
      case "list": {
        const huge = r.chance(0.03);
        const n = Math.min(this.budget, huge ? r.pick([5_000, 50_000]) : r.int(4));
        this.budget -= n;
        if (huge) kinds.add("huge-repeated");
        for (let i = 0; i < n; i++) {
          if (field.listKind === "scalar") this.scalar(field.number, field.scalar, w, kinds, huge);
          else if (field.listKind === "enum") w.tag(field.number, WireType.Varint).int32(this.enumValue(field.enum.values.map((v) => v.number)));
          else if (depth < maxDepth) this.nested(field.number, field.message, w, depth, kinds, huge ? 1 : maxDepth);
        }
        return;
      }
      case "map": {
        const n = Math.min(this.budget, r.chance(0.03) ? 20_000 : r.int(3));
        this.budget -= n;
        if (n > 100) kinds.add("huge-repeated");
        for (let i = 0; i < n; i++) {
          w.tag(field.number, WireType.LengthDelimited).fork();
          this.scalar(1, field.mapKey, w, kinds, n > 100);
          if (field.mapKind === "scalar") this.scalar(2, field.scalar, w, kinds);
          else if (field.mapKind === "enum") w.tag(2, WireType.Varint).int32(r.int(4));
          else if (depth < maxDepth) this.nested(2, field.message, w, depth, kinds, maxDepth);
          w.join();
        }
        return;
      }
    }
  }

  private nested(no: number, desc: DescMessage, w: BinaryWriter, depth: number, kinds: Set<CaseKind>, maxDepth: number): void {
    w.tag(no, WireType.LengthDelimited).fork();
    this.message(desc, w, depth + 1, kinds, maxDepth);
    w.join();
  }

  private enumValue(known: number[]): number {
    const r = this.rng;
    return r.chance(0.7) ? r.pick(known) : r.pick([-1, 999, 2147483647, -2147483648]);
  }

  private scalar(no: number, type: ScalarType, w: BinaryWriter, kinds: Set<CaseKind>, plain = false): void {
    const r = this.rng;
    switch (type) {
      case ScalarType.STRING: {
        w.tag(no, WireType.LengthDelimited);
        if (!plain && r.chance(0.08)) {
          kinds.add("invalid-utf8");
          w.bytes(new Uint8Array([0x61, ...r.pick(BAD_UTF8), 0x62]));
        } else w.string(plain ? `k${r.int(1e9)}` : r.chance(0.05) ? "x".repeat(this.big(r.pick([129, 1024, 70_000]))) : r.pick(STRINGS));
        return;
      }
      case ScalarType.BYTES:
        w.tag(no, WireType.LengthDelimited).bytes(r.bytes(r.chance(0.05) ? this.big(100_000) : r.int(64)));
        return;
      case ScalarType.BOOL:
        w.tag(no, WireType.Varint).uint64(r.pick(["0", "1", "2", "18446744073709551615"]));
        return;
      case ScalarType.INT32:
      case ScalarType.SINT32:
        w.tag(no, WireType.Varint)[type === ScalarType.INT32 ? "int32" : "sint32"](plain ? r.int(1e9) : r.pick(INT32));
        return;
      case ScalarType.UINT32:
        w.tag(no, WireType.Varint).uint32(r.pick([0, 1, 4294967295, 65536]));
        return;
      case ScalarType.INT64:
      case ScalarType.SINT64:
        w.tag(no, WireType.Varint)[type === ScalarType.INT64 ? "int64" : "sint64"](plain ? String(r.int(1e9)) : r.pick(INT64));
        return;
      case ScalarType.UINT64:
        w.tag(no, WireType.Varint).uint64(plain ? String(r.int(1e9)) : r.pick(UINT64));
        return;
      case ScalarType.FIXED64:
      case ScalarType.SFIXED64:
        w.tag(no, WireType.Bit64).fixed64(r.pick(UINT64));
        return;
      case ScalarType.DOUBLE:
        w.tag(no, WireType.Bit64).double(r.pick(DOUBLES));
        return;
      case ScalarType.FIXED32:
      case ScalarType.SFIXED32:
        w.tag(no, WireType.Bit32).fixed32(r.pick([0, 1, 4294967295]));
        return;
      case ScalarType.FLOAT:
        w.tag(no, WireType.Bit32).float(r.pick(DOUBLES));
        return;
    }
  }

  /** `size` while the case's big-value byte budget lasts, then 64. */
  private big(size: number): number {
    if (size > this.bigBytes) return 64;
    this.bigBytes -= size;
    return size;
  }

  /** The field's number with a wire type other than its own (and a payload of that wire type). */
  private wrongWireType(field: DescField, w: BinaryWriter): void {
    const r = this.rng;
    const type = r.pick([WireType.Varint, WireType.Bit64, WireType.LengthDelimited, WireType.Bit32, WireType.StartGroup]);
    w.tag(field.number, type);
    if (type === WireType.Varint) w.uint64("18446744073709551615");
    else if (type === WireType.Bit64) w.fixed64("1");
    else if (type === WireType.Bit32) w.fixed32(1);
    else if (type === WireType.LengthDelimited) w.bytes(r.bytes(r.int(16)));
    else w.tag(field.number, WireType.EndGroup);
  }
}

/** `depth` nested unknown groups (start-group tags, then as many end-group tags). */
function groupBomb(depth: number): Uint8Array {
  const start = 0x0b; // field 1, StartGroup
  const end = 0x0c; // field 1, EndGroup
  const out = new Uint8Array(depth * 2);
  out.fill(start, 0, depth);
  out.fill(end, depth);
  return out;
}

/** The arrays joined (without spreading them into a JS array: cases run to megabytes). */
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Flips, truncates, extends or splices the encoded bytes. */
function mutate(r: Rng, bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes);
  switch (r.int(4)) {
    case 0:
      for (let i = 0; i < 1 + r.int(4) && copy.length > 0; i++) copy[r.int(copy.length)] = r.int(256);
      return copy;
    case 1:
      return copy.subarray(0, r.int(copy.length + 1));
    case 2:
      return concat(copy, r.bytes(1 + r.int(16)));
    default: {
      const at = r.int(copy.length + 1);
      return concat(copy.subarray(0, at), r.bytes(1 + r.int(8)), copy.subarray(at));
    }
  }
}
