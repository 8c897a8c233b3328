import { runStandalone } from "@caas/shared/service-runtime";
import { createComplianceService } from "./index.js";

await runStandalone("compliance", createComplianceService);
