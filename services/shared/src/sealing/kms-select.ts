import { hkdfSync, randomBytes } from "node:crypto";
import { link, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config.js";
import { ensurePrivateDir, PRIVATE_FILE_MODE } from "../data-dir.js";
import type { Logger } from "../logger.js";
import type { Kms } from "./kms.js";
import { createLocalKms } from "./kms-local.js";

/** File (under the embedded data directory) holding the generated KEK, base64, mode 0600. */
export const KEK_FILE = "kek";

/**
 * The KMS of the run mode, chosen in one place: CAAS_KEK when set; otherwise in embedded mode a
 * KEK generated once into `<dataDir>/kek` (mode 0600, like the admin credential); in cluster mode
 * one derived (HKDF-SHA256) from the service-secret root every instance shares, with a warning:
 * an operator should set CAAS_KEK (ADR 0120). The choice is logged, never the key.
 */
export async function openKmsForConfig(config: Config, logger: Logger): Promise<Kms> {
  if (config.kek !== undefined) {
    const kms = createLocalKms(Buffer.from(config.kek, "base64"));
    logger.info({ kekId: kms.kekId }, "message data keys are wrapped by the KEK from CAAS_KEK");
    return kms;
  }
  if (config.mode === "embedded") {
    const kms = createLocalKms(await kekFile(config.dataDir));
    logger.info({ kekId: kms.kekId, path: join(config.dataDir, KEK_FILE) }, "message data keys are wrapped by the KEK in the data directory (set CAAS_KEK to keep it elsewhere)");
    return kms;
  }
  if (config.serviceSecret === undefined) throw new Error("cluster mode needs CAAS_KEK (or CAAS_SERVICE_SECRET to derive it from)");
  const kms = createLocalKms(Buffer.from(hkdfSync("sha256", config.serviceSecret, "caas", "message data key-encryption key", 32)));
  logger.warn({ kekId: kms.kekId }, "CAAS_KEK is not set: the KEK is derived from the service secret; set CAAS_KEK so that the two are kept and rotated apart");
  return kms;
}

/**
 * The KEK in `<dataDir>/kek`, created at first use. A new file is written under a temporary name
 * and hard-linked into place, which fails when a file is there: processes starting at once agree on one key.
 */
async function kekFile(dataDir: string): Promise<Buffer> {
  const path = join(dataDir, KEK_FILE);
  const existing = await readKek(path);
  if (existing) return existing;
  await ensurePrivateDir(dataDir);
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, `${randomBytes(32).toString("base64")}\n`, { mode: PRIVATE_FILE_MODE, flag: "wx" });
  try {
    await link(temp, path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw err;
    });
  } finally {
    await rm(temp, { force: true });
  }
  const kek = await readKek(path);
  if (!kek) throw new Error(`could not create the KEK file ${path}`);
  return kek;
}

async function readKek(path: string): Promise<Buffer | undefined> {
  const text = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (text === undefined) return undefined;
  const kek = Buffer.from(text.trim(), "base64");
  if (kek.length !== 32) throw new Error(`${path} must hold 32 bytes in base64`);
  return kek;
}
