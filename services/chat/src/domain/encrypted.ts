import { createHash } from "node:crypto";
import type { JsonObject } from "@bufbuild/protobuf";
import type { EncryptedContent } from "@caas/gen/caas/chat/v1/encrypted_pb.js";
import { invalid } from "./input.js";

/*
 * The rules of end-to-end encrypted conversations: their messages carry ciphertext only
 * (`encrypted`), which the server checks for shape and size and never reads; the other
 * conversations refuse ciphertext bodies (nobody could read them and search would miss them).
 */

/** Ciphertext bytes of all envelopes of one message together: a message fits a bus record with room to spare. */
export const MAX_ENVELOPE_BYTES_TOTAL = 256 * 1024;
/** Bytes of one envelope's ciphertext or of an MLS message. */
export const MAX_CIPHERTEXT_BYTES = 64 * 1024;
/** Envelopes of one message (recipient devices). */
export const MAX_ENVELOPES = 1000;

const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;

/** The body of a send or an edit, as the request states it. */
export interface BodyInput {
  text: string;
  custom: JsonObject | undefined;
  attachments: number;
  encrypted: EncryptedContent | undefined;
}

/**
 * Checks a body against the conversation's kind: in an end-to-end encrypted conversation the
 * ciphertext is required and text, custom data and attachments (whose names are plaintext) are
 * refused; elsewhere ciphertext is refused. INVALID_ARGUMENT naming the field.
 */
export function checkBody(e2ee: boolean, body: BodyInput): void {
  if (!e2ee) {
    if (body.encrypted !== undefined) throw invalid("encrypted", "the conversation is not end-to-end encrypted; send text, attachments or custom data");
    return;
  }
  if (body.text !== "") throw invalid("text", "the conversation is end-to-end encrypted: send ciphertext in encrypted, not text");
  if (body.custom !== undefined) throw invalid("custom", "the conversation is end-to-end encrypted: custom data goes inside the ciphertext");
  if (body.attachments > 0) throw invalid("attachments", "the conversation is end-to-end encrypted: attachment references go inside the ciphertext");
  if (body.encrypted === undefined) throw invalid("encrypted", "the conversation is end-to-end encrypted: a message needs encrypted content");
  checkEncrypted(body.encrypted);
}

/** The shape and sizes of encrypted content (the protos declare them too; handlers re-check for callers without the interceptor). */
export function checkEncrypted(content: EncryptedContent): void {
  const s = content.scheme;
  if (s.case === "mlsMessage") {
    if (s.value.length < 1 || s.value.length > MAX_CIPHERTEXT_BYTES) throw invalid("encrypted.mls_message", `1-${MAX_CIPHERTEXT_BYTES} bytes`);
    return;
  }
  if (s.case !== "deviceEnvelopes") throw invalid("encrypted", "needs device_envelopes or mls_message");
  const list = s.value.envelopes;
  if (list.length < 1 || list.length > MAX_ENVELOPES) throw invalid("encrypted.device_envelopes.envelopes", `1-${MAX_ENVELOPES} envelopes`);
  const seen = new Set<string>();
  let total = 0;
  list.forEach((e, i) => {
    const at = `encrypted.device_envelopes.envelopes[${i}]`;
    if (!USER_ID.test(e.userId)) throw invalid(`${at}.user_id`, "must match ^[A-Za-z0-9_.@:-]{1,128}$");
    if (e.deviceId < 1 || e.deviceId > 127) throw invalid(`${at}.device_id`, "must be between 1 and 127");
    if (e.type > 255) throw invalid(`${at}.type`, "at most 255");
    if (e.ciphertext.length < 1 || e.ciphertext.length > MAX_CIPHERTEXT_BYTES) throw invalid(`${at}.ciphertext`, `1-${MAX_CIPHERTEXT_BYTES} bytes`);
    const key = `${e.userId}\n${e.deviceId}`;
    if (seen.has(key)) throw invalid(`${at}.device_id`, "one envelope per user and device");
    seen.add(key);
    total += e.ciphertext.length;
  });
  if (total > MAX_ENVELOPE_BYTES_TOTAL) throw invalid("encrypted.device_envelopes", `ciphertexts total ${total} bytes; at most ${MAX_ENVELOPE_BYTES_TOTAL}`);
}

/** A digest of encrypted content for idempotent retries (the same ciphertext is the same payload). */
export function encryptedDigest(content: EncryptedContent | undefined): string | null {
  if (content === undefined) return null;
  const h = createHash("sha256");
  const s = content.scheme;
  if (s.case === "mlsMessage") h.update("mls\n").update(s.value);
  else if (s.case === "deviceEnvelopes") for (const e of s.value.envelopes) h.update(`${e.userId}\n${e.deviceId}\n${e.type}\n${e.ciphertext.length}\n`).update(e.ciphertext);
  return h.digest("base64url");
}

// Emoji and the joiners, selectors, skin tones and keycaps that build them; no letters or digits
// of any script except as part of a keycap sequence.
const EMOJI_ONLY = /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}|\p{Emoji_Modifier}|\u200d|\ufe0e|\ufe0f|\u20e3|[\u{e0020}-\u{e007f}]|[#*0-9]\ufe0f?\u20e3)+$/u;

/**
 * A reaction in an end-to-end encrypted conversation: emoji only, since a reaction is stored and
 * relayed in the clear and a word would be plaintext beside the ciphertext.
 */
export function checkEncryptedReaction(reaction: string): void {
  if (!EMOJI_ONLY.test(reaction)) throw invalid("reaction", "the conversation is end-to-end encrypted: reactions are emoji only, not text");
}
