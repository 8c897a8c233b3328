import { runStandalone } from "@caas/shared";
import { createMediaService } from "./index.js";

await runStandalone("media", createMediaService);
