import { mkdirSync } from "node:fs";
import { mkdir } from "node:fs/promises";

/**
 * Mode of every directory the platform creates under its data directory (and the data directory
 * itself): the owner only. The stores hold password hashes, messages and keys; other local users
 * must not read them, whatever the umask.
 */
export const PRIVATE_DIR_MODE = 0o700;

/** Mode of every file the platform writes under its data directory: owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `path` (and missing parents) owner-only. A directory that already exists keeps its
 * mode: an operator who mounted a volume with other permissions chose them.
 */
export async function ensurePrivateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** Synchronous {@link ensurePrivateDir}, for startup code that runs before any await. */
export function ensurePrivateDirSync(path: string): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
}
