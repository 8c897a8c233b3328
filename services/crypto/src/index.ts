import { KeyDirectoryService } from "@caas/gen/caas/crypto/v1/key_directory_service_pb.js";
import type { ServiceContext } from "@caas/shared/service-runtime";
import type { ServiceDefinition } from "@caas/shared/server/service-host";
import { openCryptoStoresForConfig } from "./crypto-stores.js";
import { DirectorySigner, newSigningKey } from "./domain/directory-signer.js";
import { DEFAULT_LOW_WATER_MARK, DEFAULT_SIGNED_PREKEY_GRACE_MS } from "./key-directory-core.js";
import { KeyDirectoryServiceImpl } from "./key-directory-service.js";
import { registerCryptoRoutes } from "./routes.js";
import { busSupplyLowNotifier } from "./supply-low.js";
import { busKeysChangedNotifier } from "./keys-changed.js";
import { chatMembershipLookup } from "./adapters/membership-lookup-grpc.js";

export { KeyDirectoryServiceImpl } from "./key-directory-service.js";
export { keyCallerOf, DEFAULT_LOW_WATER_MARK, DEFAULT_SIGNED_PREKEY_GRACE_MS, type KeyDirectoryDeps, type SupplyLowNotifier, type DeviceListNotifier } from "./key-directory-core.js";
export { DirectorySigner, newSigningKey, signingKeyId } from "./domain/directory-signer.js";
export { safetyNumber, SAFETY_NUMBER_ITERATIONS } from "./domain/safety-number.js";
export { openCryptoStores, openCryptoStoresForConfig, CRYPTO_DB_FILE, type CryptoBackend, type CryptoStores } from "./crypto-stores.js";
export { busSupplyLowNotifier } from "./supply-low.js";
export { busKeysChangedNotifier, CONVERSATIONS_PER_RECORD } from "./keys-changed.js";
export type { MembershipLookup } from "./ports/membership-lookup.js";
export { registerCryptoRoutes } from "./routes.js";
export type { KeyStore, DeviceRecord, DeviceRef, OneTimeKey, SignedKey } from "./ports/key-store.js";
export type { DeviceHistoryStore, HistoryEntry, StoredSigningKey } from "./ports/device-history-store.js";

/**
 * The crypto service: the end-to-end encryption key directory (KeyDirectoryService). Its stores
 * (SQLite / MongoDB) come from the run mode; the directory's Ed25519 signing key is created by
 * the first instance and shared through the store; "one-time prekeys low" notices go on the
 * per-user state topic, which socket relays to the owner's connections; device-list changes go
 * there too, with the owner's conversations (asked of chat), for socket to push keys_changed.
 */
export async function createCryptoService(ctx: ServiceContext): Promise<ServiceDefinition> {
  const { config, logger, clock, bus, peers, serviceSecret } = ctx;
  // Device-list changes go to the users who share a conversation with the owner: chat says who they are.
  if (!serviceSecret) throw new Error("the crypto service needs CAAS_SERVICE_SECRET: it asks chat for a user's conversations with a service token");
  const stores = await openCryptoStoresForConfig(config, logger);
  try {
    const signer = new DirectorySigner(await stores.history.signingKey(newSigningKey()));
    logger.info({ keyId: signer.key.keyId }, "key directory signing key");
    const impl = new KeyDirectoryServiceImpl({
      keys: stores.keys,
      history: stores.history,
      signer,
      clock,
      notifyLow: busSupplyLowNotifier({ bus, clock, logger }),
      notifyChanged: busKeysChangedNotifier({ bus, clock, logger, memberships: chatMembershipLookup({ peers, serviceSecret, clock }) }),
      lowWaterMark: DEFAULT_LOW_WATER_MARK,
      signedPreKeyGraceMs: DEFAULT_SIGNED_PREKEY_GRACE_MS,
    });
    return {
      name: "crypto",
      services: [KeyDirectoryService],
      register: (router) => registerCryptoRoutes(router, impl),
      close: () => stores.close(),
    };
  } catch (err) {
    await stores.close();
    throw err;
  }
}
