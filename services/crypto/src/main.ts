import { runStandalone } from "@caas/shared";
import { createCryptoService } from "./index.js";

await runStandalone("crypto", createCryptoService);
