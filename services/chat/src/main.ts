import { runStandalone } from "@caas/shared/service-runtime";
import { createChatService } from "./index.js";

await runStandalone("chat", createChatService);
