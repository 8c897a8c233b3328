import { runStandalone } from "@caas/shared/service-runtime";
import { createGatewayService } from "./index.js";

await runStandalone("gateway", createGatewayService);
