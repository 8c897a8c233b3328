import { runStandalone } from "@caas/shared";
import { createGatewayService } from "./index.js";

await runStandalone("gateway", createGatewayService);
