import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { GetDataKeyResponseSchema, RotateDataKeyResponseSchema, ShredTenantKeysResponseSchema, type MessageKeysInternalService } from "@caas/gen/caas/chat/v1/message_keys_internal_service_pb.js";
import { FailedPreconditionError, NotFoundError } from "@caas/shared/errors";
import type { Logger } from "@caas/shared/logger";
import type { MessageKeyring } from "./message-keyring.js";
import type { Reencryption } from "./reencryption.js";

/**
 * MessageKeysInternalService (ADR 0120): data keys for the other services' consumers of chat
 * events, rotation with a background re-encryption, and crypto-shredding. Callers are services
 * (the internal guard requires a service token); the tenant is the request's.
 */
export class MessageKeysService implements ServiceImpl<typeof MessageKeysInternalService> {
  constructor(
    private readonly deps: {
      keys: MessageKeyring;
      reencryption: Reencryption;
      /** Makes destroyed key bytes unrecoverable from the store's files (chat's `scrub`). */
      scrub: () => Promise<void>;
      logger: Logger;
    },
  ) {}

  async getDataKey(req: { tenantId: string; keyId: string }) {
    const key = await this.deps.keys.key(req.tenantId, req.keyId);
    if (!key) throw new NotFoundError("data key");
    return create(GetDataKeyResponseSchema, { keyId: key.id, key: key.bytes });
  }

  async rotateDataKey(req: { tenantId: string }) {
    const { keys, reencryption, logger } = this.deps;
    if (reencryption.running(req.tenantId)) throw new FailedPreconditionError("a re-encryption of this tenant is running; wait for it (GetReencryptionProgress)");
    const key = await keys.rotate(req.tenantId);
    logger.info({ tenantId: req.tenantId, keyId: key.id }, "tenant data key rotated; re-encrypting its stored messages");
    void reencryption.start(req.tenantId, key);
    return create(RotateDataKeyResponseSchema, { keyId: key.id });
  }

  async getReencryptionProgress(req: { tenantId: string }) {
    return this.deps.reencryption.progress(req.tenantId);
  }

  async shredTenantKeys(req: { tenantId: string }) {
    const destroyed = await this.deps.keys.shred(req.tenantId);
    await this.deps.scrub();
    this.deps.logger.warn({ tenantId: req.tenantId, destroyed }, "tenant data keys destroyed (crypto-shredding): its stored messages are unreadable");
    return create(ShredTenantKeysResponseSchema, { destroyed });
  }
}
