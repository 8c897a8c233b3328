import { ensureDemo } from "@caas/gateway/demo";
import { createLogger } from "@caas/shared/logger";
import { ensurePrivateDirSync } from "@caas/shared/data-dir";
import { startConfig } from "@caas/shared/config-check";
import { compactOldSpaceOnFullGc, startOldSpaceCollector } from "@caas/shared/service-runtime";
import { startEmbeddedPlatform } from "./platform.js";

// The socket service's idle connections would otherwise keep the old-space pages their
// authentication burst fragmented, and the burst's garbage until V8's next full GC; in one
// process that is every service's heap (ADR 0212).
compactOldSpaceOnFullGc();
startOldSpaceCollector();
// Validated before anything opens; `--check-config` prints the settings and exits here.
const checked = startConfig("platform");
// `npm start -- --demo` is the same as CAAS_DEMO=1.
const config = process.argv.slice(2).includes("--demo") ? { ...checked, demo: true } : checked;
ensurePrivateDirSync(config.dataDir);
const log = createLogger({ service: "platform", instance: config.instanceId, level: config.logLevel });
const platform = await startEmbeddedPlatform({ config });
const endpoints = Object.fromEntries(platform.services.map((s) => [s.name, s.url]));
let demoUrl: string | undefined;
if (config.demo) {
  try {
    await ensureDemo({ dataDir: config.dataDir, gatewayUrl: platform.url("gateway"), adminToken: config.adminToken, logger: log });
    demoUrl = `${platform.url("gateway")}/demo/`;
  } catch (err) {
    log.error({ err }, "the demo could not be set up");
  }
}
log.info({ endpoints, dataDir: config.dataDir, mode: config.mode, ...(demoUrl ? { demo: demoUrl } : {}) }, "platform ready");
{
  const width = Math.max(...platform.services.map((s) => s.name.length));
  process.stderr.write(
    `\nCAAS ${config.version} is up (embedded mode, data in ${config.dataDir})\n` +
      platform.services.map((s) => `  ${s.name.padEnd(width)}  ${s.url}`).join("\n") +
      (demoUrl ? `\n\nWeb chat demo: ${demoUrl}  (pick a demo user; open a second window as another)` : "") +
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
