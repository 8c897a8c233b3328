import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { GetReencryptionProgressResponseSchema, ReencryptionState, type GetReencryptionProgressResponse } from "@caas/gen/caas/chat/v1/message_keys_internal_service_pb.js";
import type { Clock } from "@caas/shared/clock";
import type { EventLogStore } from "@caas/shared/eventing/log";
import type { Logger } from "@caas/shared/logger";
import { chatEventAad, openBody } from "@caas/shared/sealing/chat-events";
import { seal, sealedKeyId, type DataKey } from "@caas/shared/sealing/box";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import type { MessageKeyring } from "./message-keyring.js";
import type { ConversationStore } from "./ports/conversation-store.js";
import { openPreview, previewKeyId, sealPreview } from "./sealed-conversations.js";

/** Entries read per page of a run. */
const PAGE = 500;

interface Run {
  state: ReencryptionState;
  keyId: string;
  scanned: number;
  resealed: number;
  unreadable: number;
  startMs: number;
  endMs: number;
  error: string;
}

/**
 * Re-encrypts a tenant's stored messages under its current data key after a rotation, in the
 * background, one run per tenant at a time on this instance (ADR 0120): every log entry sealed
 * with another key (or stored before sealing existed) is opened and sealed again, then every
 * conversation's last-message preview. A redaction racing the run wins (the rewrite is
 * conditional on the redacted flag). Entries whose key was destroyed stay as they are (counted as
 * unreadable). Progress is kept in memory on the instance that runs it; a run cut short (restart)
 * is started again by RotateDataKey, and re-sealing is idempotent.
 */
export class Reencryption {
  private readonly runs = new Map<string, Run>();

  constructor(private readonly deps: { events: EventLogStore; conversations: ConversationStore; keys: MessageKeyring; clock: Clock; logger: Logger }) {}

  /** Whether a run of the tenant is in progress here. */
  running(tenantId: string): boolean {
    return this.runs.get(tenantId)?.state === ReencryptionState.RUNNING;
  }

  /** Starts a run under `key` (the tenant's new current key); resolves when it ended (callers need not wait). */
  start(tenantId: string, key: DataKey): Promise<void> {
    const run: Run = { state: ReencryptionState.RUNNING, keyId: key.id, scanned: 0, resealed: 0, unreadable: 0, startMs: this.deps.clock.nowMs(), endMs: 0, error: "" };
    this.runs.set(tenantId, run);
    return this.run(tenantId, key, run).then(
      () => {
        run.state = ReencryptionState.DONE;
        run.endMs = this.deps.clock.nowMs();
        this.deps.logger.info({ tenantId, keyId: key.id, scanned: run.scanned, resealed: run.resealed, unreadable: run.unreadable }, "tenant messages re-encrypted under the new data key");
      },
      (err: unknown) => {
        run.state = ReencryptionState.FAILED;
        run.endMs = this.deps.clock.nowMs();
        run.error = err instanceof Error ? err.message : String(err);
        this.deps.logger.warn({ err, tenantId, keyId: key.id }, "re-encryption failed; RotateDataKey starts it again");
      },
    );
  }

  /** The latest run of the tenant on this instance. */
  progress(tenantId: string): GetReencryptionProgressResponse {
    const r = this.runs.get(tenantId);
    if (!r) return create(GetReencryptionProgressResponseSchema, { state: ReencryptionState.IDLE });
    return create(GetReencryptionProgressResponseSchema, {
      state: r.state,
      keyId: r.keyId,
      scanned: BigInt(r.scanned),
      resealed: BigInt(r.resealed),
      unreadable: BigInt(r.unreadable),
      startTime: timestampFromMs(r.startMs),
      ...(r.endMs > 0 ? { endTime: timestampFromMs(r.endMs) } : {}),
      error: r.error,
    });
  }

  private async run(tenantId: string, key: DataKey, run: Run): Promise<void> {
    const { events, keys } = this.deps;
    const scope = scopeForAdmin(tenantId);
    let after: { conversationId: string; seq: number } | undefined;
    for (;;) {
      const page = await events.scanTenant(scope, after, PAGE);
      for (const e of page) {
        run.scanned++;
        if (sealedKeyId(e.body) === key.id) continue;
        const aad = chatEventAad(tenantId, e.conversationId, e.seq);
        const plain = await openBody(keys, tenantId, e.body, aad);
        if (!plain) {
          run.unreadable++;
          continue;
        }
        if (await events.rewriteBody(scope, e.conversationId, e.seq, seal(key, plain, aad), e.redacted)) run.resealed++;
      }
      if (page.length < PAGE) break;
      const last = page[page.length - 1]!;
      after = { conversationId: last.conversationId, seq: last.seq };
    }
    await this.resealPreviews(tenantId, key, run);
  }

  /** Seals every conversation's stored preview under `key` again (through the projection's own update, which keeps the newest). */
  private async resealPreviews(tenantId: string, key: DataKey, run: Run): Promise<void> {
    const { conversations, keys } = this.deps;
    const scope = scopeForAdmin(tenantId);
    let afterId: string | undefined;
    for (;;) {
      const page = await conversations.scan(scope, { limit: PAGE, ...(afterId ? { afterId } : {}) });
      for (const c of page) {
        const m = c.lastMessage;
        if (!m || m.textPreview === "" || previewKeyId(m.textPreview) === key.id) continue;
        const text = await openPreview(keys, tenantId, c.id, m.textPreview);
        await conversations.replacePreview(scope, c.id, m.seq, await sealPreview(keys, tenantId, c.id, text));
        run.resealed++;
      }
      if (page.length < PAGE) return;
      afterId = page[page.length - 1]!.id;
    }
  }
}
