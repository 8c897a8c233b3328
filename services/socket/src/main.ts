import { runStandalone } from "@caas/shared/service-runtime";
import { createSocketService } from "./index.js";

await runStandalone("socket", createSocketService);
