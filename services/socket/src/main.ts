import { runStandalone } from "@caas/shared";
import { createSocketService } from "./index.js";

await runStandalone("socket", createSocketService);
