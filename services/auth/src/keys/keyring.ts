import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PRIVATE_DIR_MODE } from "@caas/shared/data-dir";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import type { RunMode } from "@caas/shared/config";
import type { AuthStateStore } from "../ports/auth-state-store.js";

/** Secrets derived from the auth root key, one per purpose (HKDF-SHA256). */
export interface Keyring {
  /** Pepper of API key hashes. */
  apiKeyPepper: Buffer;
  /** Pepper of the platform-admin credential hash. */
  adminPepper: Buffer;
  /** Encrypts signing private keys at rest (AES-256-GCM). */
  signingKeyKek: Buffer;
  /** Signs page tokens. */
  pageTokenSecret: Buffer;
  /** Pepper of refresh token hashes. */
  refreshTokenPepper: Buffer;
  /** Encrypts TOTP secrets at rest (AES-256-GCM). */
  totpKek: Buffer;
  /** Seals MFA challenges (AES-256-GCM). */
  mfaChallengeKey: Buffer;
  /** Pepper of recovery code hashes. */
  recoveryCodePepper: Buffer;
}

/** Name of the root key file under the data directory. */
export const ROOT_KEY_FILE = "auth.key";

/** Derives the purpose keys from a 32-byte root key. */
export function deriveKeyring(root: Buffer): Keyring {
  if (root.length !== 32) throw new RangeError("the auth root key must be 32 bytes");
  const derive = (purpose: string) => Buffer.from(hkdfSync("sha256", root, "caas-auth-keyring-v1", purpose, 32));
  return {
    apiKeyPepper: derive("api-key-pepper"),
    adminPepper: derive("admin-credential-pepper"),
    signingKeyKek: derive("signing-key-kek"),
    pageTokenSecret: derive("page-token-secret"),
    refreshTokenPepper: derive("refresh-token-pepper"),
    totpKek: derive("totp-kek"),
    mfaChallengeKey: derive("mfa-challenge-key"),
    recoveryCodePepper: derive("recovery-code-pepper"),
  };
}

/** Where the root key is looked for and, failing that, kept. */
export interface LoadRootKeyOptions {
  mode: RunMode;
  dataDir: string;
  state: AuthStateStore;
  clock: Clock;
  logger: Logger;
}

/**
 * The auth root key. Kept apart from the database where possible, so a copy of the database
 * alone reveals no private key and no pepper: `<dataDir>/auth.key` (mode 0600) is used when it
 * exists; embedded mode creates it at first start. A cluster auth instance without that file
 * (several instances must share one key) stores it once in the database instead, with a warning:
 * mount the file to keep the key out of the database.
 */
export async function loadRootKey(opts: LoadRootKeyOptions): Promise<Buffer> {
  const path = join(opts.dataDir, ROOT_KEY_FILE);
  const fromFile = await readKeyFile(path);
  if (fromFile) return fromFile;
  const fresh = randomBytes(32).toString("base64url");
  if (opts.mode === "embedded") {
    await mkdir(opts.dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    try {
      await writeFile(path, `${fresh}\n`, { mode: 0o600, flag: "wx" });
      opts.logger.info({ path }, "auth root key created");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    return (await readKeyFile(path))!;
  }
  const stored = await opts.state.putIfAbsent("root-key", fresh, opts.clock.nowMs());
  opts.logger.warn({ path }, "auth root key is kept in the database: mount it as this file to keep it apart from the data");
  return decodeKey(stored, "the auth root key in the database");
}

async function readKeyFile(path: string): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  return decodeKey(text.trim(), path);
}

function decodeKey(text: string, where: string): Buffer {
  const key = Buffer.from(text, "base64url");
  if (key.length !== 32) throw new Error(`${where} does not hold a 32-byte base64url key`);
  return key;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Encrypts a private key for storage: iv ‖ tag ‖ ciphertext, bound to its kid (AAD). */
export function sealPrivateKey(kek: Buffer, kid: string, plaintext: Buffer): Uint8Array {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", kek, iv);
  cipher.setAAD(Buffer.from(kid, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return new Uint8Array(Buffer.concat([iv, cipher.getAuthTag(), body]));
}

/** Decrypts what `sealPrivateKey` made; throws when the key or the kid does not match. */
export function openPrivateKey(kek: Buffer, kid: string, sealed: Uint8Array): Buffer {
  const buf = Buffer.from(sealed);
  const decipher = createDecipheriv("aes-256-gcm", kek, buf.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(kid, "utf8"));
  decipher.setAuthTag(buf.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(buf.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
}
