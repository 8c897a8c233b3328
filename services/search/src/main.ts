import { runStandalone } from "@caas/shared/service-runtime";
import { createSearchService } from "./index.js";

await runStandalone("search", createSearchService);
