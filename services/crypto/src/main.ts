import { runStandalone } from "@caas/shared/service-runtime";
import { createCryptoService } from "./index.js";

await runStandalone("crypto", createCryptoService);
