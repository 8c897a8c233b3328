import { runStandalone } from "@caas/shared/service-runtime";
import { createAuthService } from "./index.js";

await runStandalone("auth", createAuthService);
