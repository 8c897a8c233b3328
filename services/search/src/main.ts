import { runStandalone } from "@caas/shared";
import { createSearchService } from "./index.js";

await runStandalone("search", createSearchService);
