import { compactOldSpaceOnFullGc, runStandalone } from "@caas/shared/service-runtime";
import { createSocketService } from "./index.js";

// Idle connections would otherwise keep the old-space pages their authentication burst
// fragmented (ADR 0212).
compactOldSpaceOnFullGc();
await runStandalone("socket", createSocketService);
