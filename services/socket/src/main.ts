import { compactOldSpaceOnFullGc, runStandalone, startOldSpaceCollector } from "@caas/shared/service-runtime";
import { createSocketService } from "./index.js";

// Idle connections would otherwise keep the old-space pages their authentication burst
// fragmented, and the burst's garbage until V8's next full GC (ADR 0212).
compactOldSpaceOnFullGc();
startOldSpaceCollector();
await runStandalone("socket", createSocketService);
