import { runStandalone } from "@caas/shared";
import { createComplianceService } from "./index.js";

await runStandalone("compliance", createComplianceService);
