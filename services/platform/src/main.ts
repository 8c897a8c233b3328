import { createLogger, ensurePrivateDirSync, startConfig } from "@caas/shared";
import { startEmbeddedPlatform } from "./platform.js";

// Validated before anything opens; `--check-config` prints the settings and exits here.
const config = startConfig("platform");
ensurePrivateDirSync(config.dataDir);
const log = createLogger({ service: "platform", instance: config.instanceId, level: config.logLevel });
const platform = await startEmbeddedPlatform({ config });
const endpoints = Object.fromEntries(platform.services.map((s) => [s.name, s.url]));
log.info({ endpoints, dataDir: config.dataDir, mode: config.mode }, "platform ready");
{
  const width = Math.max(...platform.services.map((s) => s.name.length));
  process.stderr.write(
    `\nCAAS ${config.version} is up (embedded mode, data in ${config.dataDir})\n` +
      platform.services.map((s) => `  ${s.name.padEnd(width)}  ${s.url}`).join("\n") +
      `\n\nTry: npx buf curl --protocol grpc --http2-prior-knowledge --list-services ${platform.url("gateway")}\n\n`,
  );
}
let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "shutting down");
  platform.close().then(
    () => {
      log.info("stopped");
      log.flush();
      setTimeout(() => process.exit(0), 50);
    },
    (err: unknown) => {
      log.error({ err }, "shutdown failed");
      process.exit(1);
    },
  );
};
process.once("SIGTERM", () => stop("SIGTERM"));
process.once("SIGINT", () => stop("SIGINT"));
