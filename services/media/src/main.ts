import { runStandalone } from "@caas/shared/service-runtime";
import { createMediaService } from "./index.js";

await runStandalone("media", createMediaService);
