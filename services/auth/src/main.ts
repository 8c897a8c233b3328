import { runStandalone } from "@caas/shared";
import { createAuthService } from "./index.js";

await runStandalone("auth", createAuthService);
