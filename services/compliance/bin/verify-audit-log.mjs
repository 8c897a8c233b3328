#!/usr/bin/env node
// Offline verifier of a CAAS audit log export (AuditService.ExportAuditLog), for auditors: it
// needs Node.js only, no CAAS code and no access to the service. It re-encodes every record from
// its JSON form to the canonical protobuf bytes (an implementation independent of the service's),
// recomputes the hash chain from the export's anchor, checks every checkpoint's Ed25519
// signature under the published keys (AuditService.GetAuditPublicKeys, saved as JSON), and
// reports the first broken position and why: changed, missing, reordered, inserted,
// bad_signature or checkpoint_mismatch.
//
// Usage: node verify-audit-log.mjs <export.jsonl> <public-keys.json>
// Prints one JSON line; exit status 0 when the export verifies, 1 when it is broken, 2 on bad input.
import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";

const ACTOR_KINDS = { AUDIT_ACTOR_KIND_UNSPECIFIED: 0, AUDIT_ACTOR_KIND_USER: 1, AUDIT_ACTOR_KIND_API_KEY: 2, AUDIT_ACTOR_KIND_SERVICE: 3, AUDIT_ACTOR_KIND_PLATFORM_ADMIN: 4 };
const OUTCOMES = { AUDIT_OUTCOME_UNSPECIFIED: 0, AUDIT_OUTCOME_SUCCESS: 1, AUDIT_OUTCOME_FAILURE: 2 };
const SUBJECT_FORMS = { AUDIT_SUBJECT_FORM_UNSPECIFIED: 0, AUDIT_SUBJECT_FORM_PSEUDONYM: 1 };
const LOOKAHEAD = 64;

// Protobuf binary encoding, proto3 implicit presence: defaults are omitted, set messages are written.
function varint(value) {
  let v = BigInt(value);
  const out = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Buffer.from(out);
}
const tag = (field, wire) => varint((field << 3) | wire);
const lenField = (field, bytes) => Buffer.concat([tag(field, 2), varint(bytes.length), bytes]);
const str = (field, s) => (s ? lenField(field, Buffer.from(s, "utf8")) : Buffer.alloc(0));
const num = (field, n) => (n !== undefined && BigInt(n) !== 0n ? Buffer.concat([tag(field, 0), varint(n)]) : Buffer.alloc(0));
const bytes = (field, b64) => (b64 ? lenField(field, Buffer.from(b64, "base64")) : Buffer.alloc(0));
const msg = (field, value, encode) => (value === undefined ? Buffer.alloc(0) : lenField(field, encode(value)));
const enumOf = (names, v) => (typeof v === "number" ? v : v === undefined ? 0 : (names[v] ?? fail(`unknown enum value ${v}`)));

function timestamp(text) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!m) fail(`malformed timestamp ${text}`);
  const seconds = BigInt(Date.parse(`${m[1]}Z`) / 1000);
  const nanos = m[2] ? Number(m[2].padEnd(9, "0")) : 0;
  return Buffer.concat([num(1, seconds), num(2, nanos)]);
}

/** caas.compliance.v1.AuditEvent with `hash` cleared, details sorted by key. */
function eventBytes(e, position) {
  const details = [...(e.details ?? [])].sort((a, b) => ((a.key ?? "") < (b.key ?? "") ? -1 : (a.key ?? "") > (b.key ?? "") ? 1 : 0));
  return Buffer.concat([
    str(1, e.tenantId),
    num(2, position),
    str(3, e.sourceEventId),
    str(4, e.source),
    msg(5, e.eventTime, timestamp),
    msg(6, e.actor, (a) => Buffer.concat([num(1, enumOf(ACTOR_KINDS, a.kind)), str(2, a.id)])),
    str(7, e.action),
    msg(8, e.target, (t) => Buffer.concat([str(1, t.type), str(2, t.id), str(3, t.conversationId)])),
    num(9, enumOf(OUTCOMES, e.outcome)),
    str(10, e.correlationId),
    ...details.map((d) => lenField(11, Buffer.concat([str(1, d.key), str(2, d.value)]))),
    msg(12, e.recordTime, timestamp),
    num(13, enumOf(SUBJECT_FORMS, e.subjectForm)),
  ]);
}

/** caas.compliance.v1.AuditCheckpoint with `signature` cleared. */
function checkpointBytes(c) {
  return Buffer.concat([str(1, c.tenantId), num(2, c.position ?? 0), bytes(3, c.headHash), msg(4, c.createTime, timestamp), str(5, c.keyId)]);
}

const sha256 = (...parts) => createHash("sha256").update(Buffer.concat(parts)).digest();
const hashOf = (prev, e, position) => sha256(prev, eventBytes(e, position));
const same = (a, b) => Buffer.compare(a, b) === 0;

function fail(message) {
  const err = new Error(message);
  err.usage = true;
  throw err;
}

/** Verifies an export (its text) with the public keys (their JSON); returns the result object. */
export function verifyExport(exportText, keysJson) {
  const keys = new Map();
  for (const k of JSON.parse(keysJson).keys ?? []) {
    keys.set(k.keyId, createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(k.publicKey, "base64").toString("base64url") }, format: "jwk" }));
  }
  const lines = exportText
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l));
  const header = lines[0];
  if (!header || header.type !== "header" || header.format !== "caas-audit-export-v1") fail("not a caas-audit-export-v1 file");
  const rows = lines.filter((l) => l.type === "record").map((l) => ({ event: l.event, position: BigInt(l.event.position ?? 0), hash: Buffer.from(l.event.hash ?? "", "base64") }));
  const checkpoints = lines
    .filter((l) => l.type === "checkpoint")
    .map((l) => l.checkpoint)
    .sort((a, b) => (BigInt(a.position ?? 0) < BigInt(b.position ?? 0) ? -1 : 1));
  const anchorPosition = BigInt(header.anchor.position);
  let prev = Buffer.from(header.anchor.hash, "hex");
  let checked = 0n;
  let checkpointsChecked = 0n;
  let signedThrough = anchorPosition;
  const result = (ok, position, reason, description) => ({
    ok,
    tenantId: header.tenantId,
    brokenPosition: String(position),
    reason,
    description,
    recordsChecked: String(checked),
    checkpointsChecked: String(checkpointsChecked),
    signedThrough: String(signedThrough),
  });
  const broken = (position, reason, description) => result(false, position, reason, description);

  const pending = [...checkpoints];
  const checkpointsAt = (position, head) => {
    while (pending.length > 0 && BigInt(pending[0].position ?? 0) <= position) {
      const cp = pending.shift();
      const at = BigInt(cp.position ?? 0);
      const key = keys.get(cp.keyId);
      let valid;
      try {
        valid = key !== undefined && verify(null, checkpointBytes(cp), key, Buffer.from(cp.signature ?? "", "base64"));
      } catch {
        valid = false;
      }
      if (!valid) return broken(at, "bad_signature", `the checkpoint at position ${at} does not verify under key ${cp.keyId || "(none)"}`);
      if (at === position && !same(Buffer.from(cp.headHash ?? "", "base64"), head)) {
        return broken(at, "checkpoint_mismatch", `the chain through position ${at} differs from the signed checkpoint: records up to it were rewritten`);
      }
      checkpointsChecked += 1n;
      signedThrough = at;
    }
    return undefined;
  };
  // An anchor other than the genesis must be a signed checkpoint of the export.
  if (anchorPosition > 0n && !checkpoints.some((c) => BigInt(c.position ?? 0) === anchorPosition)) {
    return broken(anchorPosition, "bad_signature", "the export's anchor is not a signed checkpoint");
  }
  const atAnchor = checkpointsAt(anchorPosition, prev);
  if (atAnchor) return atAnchor;

  let expected = anchorPosition + 1n;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (row.position > expected) return broken(expected, "missing", `no record at position ${expected}: it was deleted`);
    if (row.position < expected) return broken(row.position, "inserted", `a second record claims position ${row.position}`);
    if (!same(hashOf(prev, row.event, expected), row.hash)) {
      for (let j = i + 1; j < Math.min(rows.length, i + 1 + LOOKAHEAD); j++) {
        const candidate = rows[j];
        if (!same(hashOf(prev, candidate.event, expected), candidate.hash)) continue;
        const rowFollows = same(hashOf(candidate.hash, row.event, expected + 1n), row.hash);
        if (j === i + 1 && !rowFollows) return broken(expected, "inserted", `the record at position ${expected} was not appended by compliance: the next record chains from the one before it`);
        return broken(expected, "reordered", `the record at position ${expected} belongs elsewhere: the record stored at ${candidate.position} belongs here`);
      }
      return broken(expected, "changed", `the record at position ${expected} does not match its hash: its content or hash was changed`);
    }
    checked += 1n;
    prev = row.hash;
    const cp = checkpointsAt(expected, prev);
    if (cp) return cp;
    expected += 1n;
  }
  const last = expected - 1n;
  const beyond = pending.find((c) => BigInt(c.position ?? 0) > last);
  if (beyond) return broken(last + 1n, "missing", `a signed checkpoint covers ${beyond.position} records but the export ends at ${last}`);
  return result(true, 0n, "", `${checked} records chain correctly`);
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const [exportPath, keysPath] = process.argv.slice(2);
  if (!exportPath || !keysPath) {
    process.stderr.write("usage: node verify-audit-log.mjs <export.jsonl> <public-keys.json>\n");
    process.exit(2);
  }
  try {
    const out = verifyExport(readFileSync(exportPath, "utf8"), readFileSync(keysPath, "utf8"));
    process.stdout.write(`${JSON.stringify(out)}\n`);
    process.exit(out.ok ? 0 : 1);
  } catch (err) {
    process.stderr.write(`verify-audit-log: ${err.message}\n`);
    process.exit(2);
  }
}
