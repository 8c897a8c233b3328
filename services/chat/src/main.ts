import { runStandalone } from "@caas/shared";
import { createChatService } from "./index.js";

await runStandalone("chat", createChatService);
