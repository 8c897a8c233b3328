import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PRIVATE_DIR_MODE } from "@caas/shared/data-dir";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import { hashCredential, newAdminCredential } from "./domain/secrets.js";
import type { AuthStateStore } from "./ports/auth-state-store.js";

/** File (under the data directory) the generated admin credential is written to, once. */
export const ADMIN_CREDENTIAL_FILE = "admin-credential";
/** The auth state entry holding the generated credential's hash. */
const STATE_NAME = "admin-credential-hash";

/** Where the admin credential comes from and where its hash goes. */
export interface AdminCredentialOptions {
  /** CAAS_ADMIN_TOKEN, when the operator supplies the credential (length checked by loadConfig). */
  envToken?: string;
  dataDir: string;
  state: AuthStateStore;
  pepper: Buffer;
  clock: Clock;
  logger: Logger;
}

/**
 * The hash of the platform-admin credential. From CAAS_ADMIN_TOKEN when set (hashed in memory,
 * nothing stored). Otherwise created at first start: written once to `<dataDir>/admin-credential`
 * (mode 0600; only its path is logged) and stored as an HMAC hash; later starts find the hash.
 * The file is written before the hash is stored, so a crash in between just makes a new one at
 * the next start; of auth instances starting at once only the first stored hash counts (the
 * others remove their own unused file).
 */
export async function establishAdminCredential(opts: AdminCredentialOptions): Promise<string> {
  const { logger } = opts;
  if (opts.envToken !== undefined) {
    logger.info("platform-admin credential taken from CAAS_ADMIN_TOKEN");
    return hashCredential(opts.pepper, opts.envToken);
  }
  const existing = await opts.state.get(STATE_NAME);
  if (existing !== undefined) {
    logger.info("platform-admin credential exists (created at first start; set CAAS_ADMIN_TOKEN to replace it)");
    return existing;
  }
  const credential = newAdminCredential();
  const hash = hashCredential(opts.pepper, credential);
  const path = join(opts.dataDir, ADMIN_CREDENTIAL_FILE);
  await mkdir(opts.dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, `${credential}\n`, { mode: 0o600, flag: "wx" });
  await rename(temp, path);
  const stored = await opts.state.putIfAbsent(STATE_NAME, hash, opts.clock.nowMs());
  if (stored !== hash) {
    // Remove the file only if it still holds this instance's unused credential.
    const inFile = await readFile(path, "utf8").catch(() => "");
    if (inFile.trim() === credential) await rm(path, { force: true });
    logger.info("platform-admin credential was created by another auth instance");
    return stored;
  }
  logger.warn({ path }, "platform-admin credential created and written to this file (mode 0600), the only time it is shown: store it safely and delete the file");
  return hash;
}
