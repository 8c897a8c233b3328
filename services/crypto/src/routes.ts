import type { ConnectRouter } from "@connectrpc/connect";
import { KeyDirectoryService } from "@caas/gen/caas/crypto/v1/key_directory_service_pb.js";
import type { KeyDirectoryServiceImpl } from "./key-directory-service.js";

/** Registers KeyDirectoryService on a router. */
export function registerCryptoRoutes(router: ConnectRouter, keyDirectory: KeyDirectoryServiceImpl): void {
  router.service(KeyDirectoryService, keyDirectory);
}
